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
})();
