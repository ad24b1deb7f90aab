// Starts GOV.UK Frontend's components (header menu, error summary focus, and the rest).
import { initAll } from "./govuk-frontend.min.js";

initAll();

// An element with data-poll-url asks its URL for progress until the JSON says done, then shows the
// server-rendered outcome in place: an upload's check result appears without reloading the page.
const POLL_EVERY_MS = 1000;
const GIVE_UP_AFTER = 600; // ten minutes: past that, the page says to refresh

function poll(region) {
  const url = region.dataset.pollUrl;
  let tries = 0;
  const tick = async () => {
    tries += 1;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const body = await response.json();
        if (body.done && body.reload) {
          window.location.reload(); // pages that show the outcome in several places load it afresh
          return;
        }
        if (body.done) {
          region.innerHTML = body.html;
          delete region.dataset.pollUrl;
          initAll({ scope: region });
          activateOnAgreement(region);
          const heading = region.querySelector("[id='outcome-heading'], h2");
          if (heading) {
            heading.setAttribute("tabindex", "-1");
            heading.focus();
          }
          return;
        }
      }
    } catch {
      // A dropped connection: try again on the next tick.
    }
    if (tries < GIVE_UP_AFTER) {
      window.setTimeout(tick, POLL_EVERY_MS);
    } else {
      region.insertAdjacentHTML(
        "beforeend",
        '<p class="govuk-body">This is taking longer than usual. Refresh the page to see the outcome.</p>',
      );
    }
  };
  window.setTimeout(tick, POLL_EVERY_MS);
}

// A form that asks the person to agree (data-agree-to-submit) keeps its submit button inactive until
// the box is ticked. Without JavaScript the button works, and the server refuses an unticked box.
function activateOnAgreement(scope) {
  scope.querySelectorAll("form[data-agree-to-submit]").forEach((form) => {
    const box = form.querySelector("input[type=checkbox]");
    const button = form.querySelector("button[type=submit]");
    if (!box || !button) return;
    const sync = () => {
      button.disabled = !box.checked;
      button.setAttribute("aria-disabled", String(!box.checked));
    };
    box.addEventListener("change", sync);
    sync();
  });
}

document.querySelectorAll("[data-poll-url]").forEach(poll);
activateOnAgreement(document);
