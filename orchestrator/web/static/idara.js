// idara's progressive layer: every page works without it.
// - select[data-autosubmit] submits its form when changed (the button stays for keyboards
//   and browsers without script);
// - [data-live] regions are fetched again every few seconds and swapped in place, until the
//   server marks them data-final, so a case's status moves without reloading by hand.
"use strict";

const REFRESH_MS = 3000;

function autosubmit() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
}

function editing(region) {
  const active = document.activeElement;
  return active && region.contains(active) && active.matches("input, textarea, select, button");
}

async function refresh(region) {
  if (region.dataset.final === "true" || document.hidden || editing(region)) return;
  const response = await fetch(window.location.href, {
    credentials: "same-origin",
    headers: { "X-Requested-With": "idara-live" },
  });
  if (!response.ok || response.redirected) return;
  const fresh = new DOMParser()
    .parseFromString(await response.text(), "text/html")
    .getElementById(region.id);
  if (fresh && fresh.innerHTML !== region.innerHTML) {
    region.innerHTML = fresh.innerHTML;
  }
  if (fresh && fresh.dataset.final === "true") region.dataset.final = "true";
}

function live() {
  for (const region of document.querySelectorAll("[data-live][id]")) {
    const timer = window.setInterval(async () => {
      try {
        await refresh(region);
      } catch (error) {
        // the server is restarting or the network dropped: try again at the next tick
      }
      if (region.dataset.final === "true") window.clearInterval(timer);
    }, REFRESH_MS);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  autosubmit();
  live();
});
