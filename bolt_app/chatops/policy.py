"""The command policy: who may run which command, and do what with it. Deny by default.

`policy.toml` (project root, deployed with the function; `CHATOPS_POLICY_FILE` points elsewhere):

    [roles]
    admins    = ["U0ADMIN001"]            # Slack user IDs
    operators = ["U0OPER0001"]

    [commands."/instances"]
    allow    = ["operators", "admins"]    # role names, user IDs, or "everyone"
    act      = ["operators", "admins"]    # verbs other than allow: what a command's buttons need
    channels = ["C0OPS00001"]             # optional: only in these channels (absent or empty: anywhere)

A command, or a verb of one, that the policy does not name is refused to everyone, admins
included. The file is read once per container (`Policy.load`), at start-up: anything that does not
parse, an unknown role, a misspelled key or a value of the wrong type raises PolicyError, one line
naming the file and the problem (docs/chatops.md has the full schema).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bolt_app.config import ConfigError

EVERYONE = "everyone"
ADMINS = "admins"
# What a policy entry may grant. `allow` runs the command (and its read-only buttons); the others are
# what acting buttons declare they need (bolt_app/chatops/registry.py): start/stop, approve/deny.
VERBS = ("allow", "act", "approve")
COMMAND_KEYS = (*VERBS, "channels")
TOP_LEVEL_KEYS = ("roles", "commands")

# Slack IDs: users U…/W… (Enterprise Grid), channels C…/G… (private, older)/D… (DMs).
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
# A Slack user group by its handle, as people type it: "@oncall" (bolt_app/chatops/usergroups.py).
GROUP_HANDLE = re.compile(r"^@[a-z0-9][a-z0-9._-]*$")
# "/stack-status" (a slash command) or a bare name for buttons that belong to no command ("alarms").
COMMAND_NAME = re.compile(r"^/?[a-z0-9][a-z0-9_.-]*$")


class PolicyError(ConfigError):
    """The policy cannot be used. The message is one line: the file, then the problem."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Allowed: who it was allowed as ("admins", "everyone", "user U0…"). Refused: a sentence for the asker.
    reason: str


@dataclass(frozen=True)
class CommandRule:
    # verb -> the principals it lists, as written (role names, user IDs, "everyone").
    grants: Mapping[str, tuple[str, ...]]
    channels: frozenset[str]


class Policy:
    """An immutable, validated policy. Every question is a few dictionary and set look-ups."""

    def __init__(
        self,
        roles: Mapping[str, frozenset[str]],
        commands: Mapping[str, CommandRule],
        source: str,
        role_groups: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.roles = dict(roles)
        self.commands = dict(commands)
        self.source = source
        # role -> the Slack user group handles (without "@") whose members are in it too.
        self.role_groups = {role: groups for role, groups in (role_groups or {}).items() if groups}
        # handle -> member IDs; set by chatops.install when the policy names a group (UserGroups.members).
        self.group_members: Callable[[str], frozenset[str]] | None = None

    @property
    def names_user_groups(self) -> bool:
        return bool(self.role_groups)

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, extra_admins: Iterable[str] = ()) -> Policy:
        """The policy in `path`, with `extra_admins` (CHATOPS_ADMINS) added to the `admins` role."""
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PolicyError(f"{source}: cannot be read ({type(error).__name__})") from None
        return cls.parse(text, source, extra_admins)

    @classmethod
    def parse(cls, text: str, source: str = "policy.toml", extra_admins: Iterable[str] = ()) -> Policy:
        def fail(problem: str) -> PolicyError:
            return PolicyError(f"{source}: {problem}")

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise fail(f"not valid TOML: {error}") from None
        _no_unknown_keys(data, TOP_LEVEL_KEYS, "at the top level", fail)

        raw_roles = data.get("roles", {})
        if not isinstance(raw_roles, dict):
            raise fail("[roles] must be a table of role = [user IDs]")
        roles: dict[str, frozenset[str]] = {}
        role_groups: dict[str, frozenset[str]] = {}
        for name, members in raw_roles.items():
            if not ROLE_NAME.match(name) or name == EVERYONE:
                raise fail(f"[roles] {name!r} is not a usable role name (lowercase letters, digits, - and _)")
            where = f"[roles] {name}"
            listed = _string_list(members, where, fail)
            for member in listed:
                if member.startswith("@"):
                    if not GROUP_HANDLE.match(member):
                        raise fail(f'{where}: {member!r} is not a Slack user group handle ("@oncall")')
                elif not USER_ID.match(member):
                    raise fail(f'{where}: {member!r} is not a Slack user ID (U… or W…) or a user group ("@oncall")')
            roles[name] = frozenset(m for m in listed if not m.startswith("@"))
            role_groups[name] = frozenset(m[1:] for m in listed if m.startswith("@"))
        admins = tuple(a.strip() for a in extra_admins if a.strip())
        for admin in admins:
            if not USER_ID.match(admin):
                raise fail(f"CHATOPS_ADMINS: {admin!r} is not a Slack user ID (U… or W…)")
        roles[ADMINS] = roles.get(ADMINS, frozenset()) | frozenset(admins)

        raw_commands = data.get("commands", {})
        if not isinstance(raw_commands, dict):
            raise fail('[commands] must be a table of [commands."/name"] entries')
        commands: dict[str, CommandRule] = {}
        for command, entry in raw_commands.items():
            where = f'[commands."{command}"]'
            if not COMMAND_NAME.match(command):
                raise fail(f'{where}: not a command name ("/name", lowercase, or a bare name for buttons)')
            if not isinstance(entry, dict):
                raise fail(f"{where} must be a table (allow = [...], ...)")
            _no_unknown_keys(entry, COMMAND_KEYS, f"in {where}", fail)
            grants: dict[str, tuple[str, ...]] = {}
            for verb in VERBS:
                if verb not in entry:
                    continue
                principals = _string_list(entry[verb], f"{where} {verb}", fail)
                for principal in principals:
                    if principal != EVERYONE and principal not in roles and not USER_ID.match(principal):
                        known = ", ".join(sorted(roles)) or "none"
                        raise fail(
                            f"{where} {verb} names an unknown role {principal!r} (roles: {known}; "
                            f'or a user ID, or "{EVERYONE}")'
                        )
                grants[verb] = tuple(principals)
            channels = _string_list(entry.get("channels", []), f"{where} channels", fail)
            for channel in channels:
                if not CHANNEL_ID.match(channel):
                    raise fail(f"{where} channels: {channel!r} is not a Slack channel ID (C…, G… or D…)")
            commands[command] = CommandRule(grants=grants, channels=frozenset(channels))
        return cls(roles, commands, source, role_groups)

    # -- questions -------------------------------------------------------------------------------

    def decide(self, user_id: str | None, command: str, verb: str = "allow", channel_id: str | None = None) -> Decision:
        """May `user_id` do `verb` with `command` (in `channel_id`)? Unnamed commands and verbs: no."""
        name = f"`{command}`" if verb == "allow" else f"`{command}` ({verb})"
        rule = self.commands.get(command)
        if rule is None:
            return Decision(False, f"`{command}` is not in the bot's policy, so nobody may run it.")
        principals = rule.grants.get(verb)
        if not principals:
            return Decision(False, f"{name} is not granted to anyone in the bot's policy.")
        if rule.channels and channel_id not in rule.channels:
            where = ", ".join(f"<#{c}>" for c in sorted(rule.channels))
            return Decision(False, f"{name} can only be used in {where}.")
        granted_as = self._granted_as(user_id, principals)
        if granted_as is None:
            return Decision(False, f"{name} is for {self.describe(principals)}.")
        return Decision(True, granted_as)

    def commands_for(self, user_id: str | None, channel_id: str | None = None) -> list[str]:
        """The commands (policy entries) `user_id` may run (`allow`), in the policy's order."""
        return [c for c in self.commands if self.decide(user_id, c, "allow", channel_id).allowed]

    def roles_of(self, user_id: str | None) -> list[str]:
        return sorted(name for name, members in self.roles.items() if user_id in members)

    def describe(self, principals: Iterable[str]) -> str:
        """ "operators and admins", "everyone", "<@U0…>": who a grant lists, for a refusal."""
        names = [EVERYONE if p == EVERYONE else p if p in self.roles else f"<@{p}>" for p in dict.fromkeys(principals)]
        if len(names) <= 2:
            return " and ".join(names)
        return ", ".join(names[:-1]) + " and " + names[-1]

    def _granted_as(self, user_id: str | None, principals: tuple[str, ...]) -> str | None:
        for principal in principals:
            if principal == EVERYONE:
                return EVERYONE
            if not user_id:
                continue
            if principal == user_id:
                return f"user {user_id}"
            members = self.roles.get(principal)
            if members is not None and user_id in members:
                return principal
            groups, group_members = self.role_groups.get(principal), self.group_members
            if groups and group_members is not None and any(user_id in group_members(g) for g in sorted(groups)):
                return principal
        return None


def _string_list(value: Any, where: str, fail: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f'{where} must be a list of strings, e.g. ["admins"]')
    return [v.strip() for v in value]


def _no_unknown_keys(table: dict[str, Any], known: tuple[str, ...], where: str, fail: Any) -> None:
    for key in table:
        if key not in known:
            import difflib  # only on the way to an error: not on every cold start

            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
            raise fail(f"unknown key {key!r} {where}{hint}")
