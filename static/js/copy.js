// Copy buttons: <button data-copy> copies the input beside it; <button data-copy="#id"> copies that element's
// data-code (or its text). Loaded on every page; no inline scripts (the Content-Security-Policy forbids them).
(() => {
  "use strict";

  document.addEventListener("click", async (event) => {
    const button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    const selector = button.getAttribute("data-copy");
    const source = selector ? document.querySelector(selector) : null;
    const input = source ? null : button.parentElement.querySelector("input");
    const text = source ? source.dataset.code || source.textContent.trim() : input ? input.value : "";
    if (input) input.select();
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      if (input && document.execCommand("copy")) button.textContent = "Copied";
      else button.textContent = "Select and copy";
    }
    setTimeout(() => { button.textContent = label; }, 1500);
  });
})();
