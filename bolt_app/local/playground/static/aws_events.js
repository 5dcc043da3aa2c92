// The sidebar's test AWS events (bolt_app/local/playground/aws_events.py): each button sends one to the
// Lambda handler as AWS would; app.js's polling then draws #alerts and the inspector entries.
import { post } from "/static/app.js";

document.addEventListener("click", async (event) => {
  const button = event.target.closest?.("[data-aws-event]");
  if (!button) return;
  button.disabled = true;
  try {
    await post("/playground/aws-events", { kind: button.dataset.awsEvent });
    document.querySelector('[data-channel="C0ALERTS01"]')?.click();
  } finally {
    button.disabled = false;
  }
});
