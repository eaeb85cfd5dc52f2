// Researcher study page: upload progress and a clean form after an htmx upload.
(() => {
  "use strict";

  document.addEventListener("htmx:xhr:progress", (event) => {
    const form = event.target.closest && event.target.closest("form.dash-upload");
    if (!form || !event.detail.lengthComputable) return;
    const bar = form.querySelector("progress");
    if (bar) bar.value = Math.round((100 * event.detail.loaded) / event.detail.total);
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.target.closest && event.target.closest("form.dash-upload");
    if (!form) return;
    const bar = form.querySelector("progress");
    if (bar) bar.value = 0;
    if (!event.detail.successful) return;
    form.querySelector("input[type=file]").value = "";
    form.querySelector(".dash-drop-title").textContent = "Choose video files";
  });

  // Show how many files are chosen.
  document.addEventListener("change", (event) => {
    const input = event.target;
    if (!input.matches || !input.matches("form.dash-upload input[type=file]")) return;
    const title = input.closest("label").querySelector(".dash-drop-title");
    const n = input.files.length;
    title.textContent = n ? `${n} file${n === 1 ? "" : "s"} chosen` : "Choose video files";
  });

  // A section loaded by URL (data-fallback: the dataset exports) that could not be loaded says so, and keeps
  // its link to the page of its own.
  const fallback = (event) => {
    const section = event.target.closest && event.target.closest("[data-fallback]");
    if (!section) return;
    const text = section.querySelector("[data-fallback-text]");
    if (!text) return;
    const link = text.querySelector("a");
    text.textContent = "This section could not be loaded. ";
    text.classList.add("dash-alert", "error");
    if (link) {
      link.textContent = "Open it on a page of its own";
      text.append(link, ".");
    }
  };
  document.addEventListener("htmx:responseError", fallback);
  document.addEventListener("htmx:sendError", fallback);
})();
