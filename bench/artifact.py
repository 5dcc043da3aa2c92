"""Artifact size: a built function directory, beside the floor of its runtime requirements alone.

The floor is what `pip install --target` puts in a Lambda package for requirements.txt on
Lambda's platform (arm64, CPython 3.13, wheels only), with bytecode compiled by a python3.13,
as the deploy build does. Both are measured alike: bytes on disk, bytes zipped (deflate, as
`sam deploy` uploads it), and module count.
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

LAMBDA_PYTHON = "3.13"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
SAM_BUILD_DIR = Path(".aws-sam/build/SlackBotFunction")
# The project's own runtime code; bolt_app/local never goes to Lambda.
OWN_CODE = ("handler.py", "bolt_app")
OWN_CODE_EXCLUDED = ("bolt_app/local",)


def measure_dir(path: Path) -> dict[str, Any]:
    """Unzipped bytes, zipped bytes and module count (.py sources and extension modules) of a directory."""
    files = sorted(p for p in path.rglob("*") if p.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, file.relative_to(path).as_posix())
    return {
        "path": str(path),
        "unzipped_bytes": sum(f.stat().st_size for f in files),
        "zipped_bytes": buffer.getbuffer().nbytes,
        "files": len(files),
        "modules": sum(1 for f in files if f.suffix == ".py" or f.name.endswith(".so")),
        "bytecode_files": sum(1 for f in files if f.suffix == ".pyc"),
    }


def find_python313() -> str | None:
    """A python3.13 that really runs (pyenv's shim exists even when 3.13 is not selected), for
    Lambda's bytecode: $PYTHON313, this interpreter, PATH, then pyenv's versions, newest first.
    The Makefile and .ci/run do the same lookup in shell."""
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    installed = glob.glob(os.path.join(pyenv_root, "versions", "3.13*", "bin", "python3.13"))
    newest_first = sorted(
        installed, key=lambda p: [int(n) for n in re.findall(r"\d+", Path(p).parts[-3])], reverse=True
    )
    candidates = [os.environ.get("PYTHON313", ""), sys.executable, shutil.which("python3.13") or "", *newest_first]
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 13)"]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def compile_bytecode(path: Path, python: str) -> None:
    # The build's own flags (Makefile, build-SlackBotFunction), so both sides carry the same .pyc bytes.
    flags = ["--invalidation-mode", "unchecked-hash", "-s", str(path), "-p", "/var/task"]
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", *flags, str(path)], check=True, stdout=subprocess.DEVNULL
    )


def floor_dir(repo: Path, cache: Path) -> tuple[Path, str | None]:
    """requirements.txt installed for Lambda with bytecode, cached by the requirements' content."""
    requirements = repo / "requirements.txt"
    # v2: installed with --no-compile (v1 let pip add bytecode of its own interpreter beside 3.13's);
    # v3: compiled with the build's flags.
    key = hashlib.sha256(requirements.read_bytes() + LAMBDA_PLATFORM.encode() + b"v3").hexdigest()[:12]
    target = cache / f"floor-{key}"
    python313 = find_python313()
    if (target / ".complete").exists():
        return target, python313
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(
        [
            # --no-compile: the only bytecode is 3.13's, compiled below, as the deploy build does.
            sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
            "--target", str(target), "-r", str(requirements),
            "--platform", LAMBDA_PLATFORM, "--python-version", LAMBDA_PYTHON,
            "--implementation", "cp", "--only-binary=:all:",
        ],
        check=True,
    )  # fmt: skip
    if python313:
        compile_bytecode(target, python313)
    (target / ".complete").touch()
    return target, python313


def own_code_dir(repo: Path, cache: Path, python313: str | None) -> Path:
    """handler.py and bolt_app (less bolt_app/local) with bytecode: the project's share of the artifact."""
    target = cache / "own-code"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in OWN_CODE:
        source = repo / name
        if source.is_file():
            shutil.copy2(source, target / name)
        else:
            shutil.copytree(
                source,
                target / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
    for excluded in OWN_CODE_EXCLUDED:
        shutil.rmtree(target / excluded, ignore_errors=True)
    if python313:
        compile_bytecode(target, python313)
    return target


def built_dir(repo: Path, explicit: Path | None) -> tuple[Path | None, str]:
    """The built function to measure: --artifact-dir, else .aws-sam's, else `sam build` when sam exists."""
    if explicit is not None:
        return (explicit, "given") if explicit.is_dir() else (None, f"not found: {explicit}")
    built = repo / SAM_BUILD_DIR
    if built.is_dir():
        return built, "existing .aws-sam build"
    # The deploy tools' venv (`make deploy-tools`) has the SAM CLI when PATH does not.
    sam = shutil.which("sam") or next((str(p) for p in [repo / ".venv-deploy/bin/sam"] if p.exists()), None)
    if sam:
        result = subprocess.run([sam, "build"], cwd=repo, capture_output=True, text=True)
        if result.returncode == 0 and built.is_dir():
            return built, "sam build (run by the benchmark)"
        return None, f"not built: `sam build` failed ({result.stderr.strip().splitlines()[-1:]})"
    return None, "not built: no .aws-sam/build/SlackBotFunction and no `sam` (PATH or .venv-deploy)"


def measure(repo: Path, cache: Path, explicit: Path | None = None) -> dict[str, Any]:
    cache.mkdir(parents=True, exist_ok=True)
    floor_path, python313 = floor_dir(repo, cache)
    floor = measure_dir(floor_path)
    own = measure_dir(own_code_dir(repo, cache, python313))
    result: dict[str, Any] = {
        "floor": floor,
        "own_code": own,
        "floor_plus_own_unzipped_bytes": floor["unzipped_bytes"] + own["unzipped_bytes"],
        "bytecode_python": python313,
        "built": None,
    }
    path, how = built_dir(repo, explicit)
    result["built_status"] = how
    if path is not None:
        built = measure_dir(path)
        result["built"] = built
        result["ratio_unzipped"] = round(built["unzipped_bytes"] / floor["unzipped_bytes"], 3)
        result["ratio_zipped"] = round(built["zipped_bytes"] / floor["zipped_bytes"], 3)
    return result
