// The rating page: instruments, keyboard control, submission that never loses a label, heartbeat, preload.
// The same page serves a participant's self-report (templates/annotator/rate.html with self_report): its
// config has no heartbeat URL and no preload (a participant holds no lease), and posts to the link's endpoint.
import { AffectGrid } from "./affect_grid.js";
import { preloadClip, setupPlayer } from "./player.js";
import {
  capTimeOnTask,
  conflictIsThisSubmission,
  deliver,
  flushPending,
  markRejected,
  pendingKey as pendingKeyFor,
  postJSON,
  store,
  uuid4,
} from "./rating_submit.js";
import { createWatchGate } from "./watch_gate.js";

const config = JSON.parse(document.getElementById("rating-config").textContent);
const form = document.getElementById("rating-form");
const statusEl = document.getElementById("form-status");
const submitBtn = document.getElementById("submit-btn");
const viewHint = document.getElementById("view-hint");
const fullViewFraction = Number(form.dataset.fullViewFraction) || 1; // the server's FULL_VIEW_FRACTION
const startedAt = performance.now();
const pendingKey = pendingKeyFor(config);
const DIMS = ["valence", "arousal"];

const isTextField = (el) =>
  el instanceof HTMLTextAreaElement ||
  (el instanceof HTMLInputElement && ["text", "search", "email", "number", "url"].includes(el.type));

function setStatus(text, kind = "info", { local = false } = {}) {
  statusEl.textContent = text;
  statusEl.dataset.kind = kind;
  statusEl.dataset.local = local ? "1" : "";
}

// ---------- state ----------
const pending = store.get(pendingKey);
const submissionId = pending?.body?.submission_id || uuid4();
const values = { valence: null, arousal: null, valence_confidence: null, arousal_confidence: null };
let cannotJudge = false;
let sending = false;
let nextPageUrl = null;
let nothingNext = false;
let preloadSettled = false; // the preload request has been answered (or failed): whatever it said

// ---------- player ----------
let watch = null; // the watch gate below; the player reports progress before it exists
const video = document.getElementById("clip-video");
const player = setupPlayer({
  video,
  duration: config.duration,
  fullAt: fullViewFraction,
  playButton: document.getElementById("play-btn"),
  replayButton: document.getElementById("replay-btn"),
  bigPlay: document.getElementById("big-play"),
  timeEl: document.getElementById("time"),
  fillEl: document.getElementById("watched-fill"),
  labelEl: document.getElementById("watched-label"),
  muteButton: document.getElementById("mute-btn"),
  onFirstPlay: preloadNext,
  onProgress: () => {
    if (!watch) return;
    updateViewHint();
    refreshSubmit();
  },
  onError: () =>
    setStatus(
      "This clip could not be played. Reload the page to try again; if it keeps failing, tick “I cannot judge this clip” and pick “Clip does not play”.",
      "error",
    ),
  onEnded: () => {
    updateViewHint();
    refreshSubmit();
  },
});

// The threshold is rendered into the page from the server's constant: watched here = what it accepts.
watch = createWatchGate({
  tracker: player.tracker,
  threshold: fullViewFraction,
  required: config.requireFullView,
  hint: viewHint,
  hintText: document.getElementById("view-hint-text"),
});

function updateViewHint() {
  if (watch.update()) clearError("watched_fraction");
}

// ---------- instruments ----------
const grid =
  config.instrument === "grid"
    ? new AffectGrid(document.getElementById("affect-grid"), {
        points: config.points,
        onChange: (v) => {
          values.valence = v.valence;
          values.arousal = v.arousal;
          for (const d of DIMS) {
            document.getElementById(`out-${d}`).textContent = v[d] ?? "–";
            if (v[d] != null) clearError(d);
          }
          refreshSubmit();
        },
      })
    : null;

form.addEventListener("change", (e) => {
  const t = e.target;
  if (t.type === "radio" && t.name in values) {
    values[t.name] = Number(t.value);
    clearError(t.name);
  } else if (t.name === "cannot_judge_preset") {
    const reason = document.getElementById("cannot-judge-reason");
    reason.value = t.value;
    clearError("cannot_judge_reason");
  } else if (t.id === "cannot-judge") {
    setCannotJudge(t.checked);
  } else if (t.name === "context_tags") {
    clearError("context_tags");
  }
  refreshSubmit();
});

for (const slider of form.querySelectorAll(".affect-slider")) {
  slider.addEventListener("input", () => {
    const v = Number(slider.value);
    values[slider.name] = v;
    slider.classList.remove("is-unset");
    slider.setAttribute("aria-valuetext", v.toFixed(2));
    document.getElementById(`out-${slider.name}`).textContent = (v > 0 ? "+" : "") + v.toFixed(2);
    clearError(slider.name);
    refreshSubmit();
  });
}

function setCannotJudge(flag) {
  cannotJudge = flag;
  document.getElementById("cannot-judge-details").hidden = !flag;
  const box = document.getElementById("instruments");
  box.classList.toggle("is-disabled", flag);
  for (const input of box.querySelectorAll("input")) input.disabled = flag;
  grid?.setDisabled(flag);
  if (flag) document.getElementById("cannot-judge-reason").focus();
  for (const f of [...DIMS, "valence_confidence", "arousal_confidence"]) clearError(f);
}

function setValue(row, digit) {
  if (cannotJudge) return;
  if (row.endsWith("_confidence")) {
    if (digit > config.confidencePoints) return;
    const input = form.querySelector(`input[name="${row}"][value="${digit}"]`);
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    input.focus({ preventScroll: true });
  } else if (config.instrument === "grid") {
    if (digit > config.points) return;
    grid.setAxis(row, digit);
  } else if (config.instrument === "slider") {
    const slider = document.getElementById(`slider-${row}`);
    slider.value = String(-1 + ((digit - 1) * 2) / 8); // 1..9 -> -1..1 in quarter steps
    slider.dispatchEvent(new Event("input", { bubbles: true }));
    slider.focus({ preventScroll: true });
  } else {
    if (digit > config.points) return;
    const input = form.querySelector(`input[name="${row}"][value="${digit}"]`);
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    input.focus({ preventScroll: true });
  }
}

// ---------- keyboard ----------
const rows = DIMS.flatMap((d) => (config.askConfidence ? [d, `${d}_confidence`] : [d]));
let activeRow = rows[0];

function rowElement(row) {
  if (config.instrument === "grid" && DIMS.includes(row)) return document.getElementById("dim-grid");
  return form.querySelector(`[data-row="${row}"]`);
}

function activate(row, { focus = true } = {}) {
  activeRow = row;
  for (const el of form.querySelectorAll(".is-active-row")) el.classList.remove("is-active-row");
  rowElement(row)?.classList.add("is-active-row");
  for (const pick of form.querySelectorAll(".axis-pick")) pick.classList.toggle("is-active", pick.dataset.axis === row);
  if (!focus) return;
  if (config.instrument === "grid" && DIMS.includes(row)) {
    document.getElementById("affect-grid").focus({ preventScroll: true });
    return;
  }
  const el = rowElement(row);
  const target = el?.querySelector("input:checked") || el?.querySelector("input");
  target?.focus({ preventScroll: true });
}

form.addEventListener("focusin", (e) => {
  const el = e.target.closest("[data-row]");
  if (!el) return;
  if (el.id === "dim-grid") activate(DIMS.includes(activeRow) ? activeRow : "valence", { focus: false });
  else activate(el.dataset.row, { focus: false });
});

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (isTextField(t)) {
    if (e.key === "Escape") t.blur();
    return;
  }
  const key = e.key;
  if (key === " ") {
    if (t instanceof HTMLInputElement && t.type === "checkbox") return; // Space toggles a chip
    e.preventDefault();
    player.toggle();
  } else if (/^[1-9]$/.test(key)) {
    e.preventDefault();
    setValue(activeRow, Number(key));
  } else if (key === "m") {
    e.preventDefault();
    player.toggleMute();
  } else if (key === "v" || key === "a") {
    e.preventDefault();
    activate(key === "v" ? "valence" : "arousal");
  } else if (key === "c" && config.askConfidence) {
    e.preventDefault();
    const dim = activeRow.replace("_confidence", "");
    activate(activeRow.endsWith("_confidence") ? dim : `${dim}_confidence`);
  } else if ((key === "ArrowUp" || key === "ArrowDown") && (t === document.body || t.closest?.("#instruments"))) {
    e.preventDefault();
    const i = rows.indexOf(activeRow) + (key === "ArrowDown" ? 1 : -1);
    activate(rows[(i + rows.length) % rows.length]);
  } else if (key === "Enter") {
    if (t instanceof HTMLButtonElement || t instanceof HTMLAnchorElement || t.tagName === "SUMMARY") return;
    e.preventDefault();
    form.requestSubmit();
  }
});
document.addEventListener("keyup", (e) => {
  if (e.key === " " && e.target instanceof HTMLButtonElement) e.preventDefault(); // no click on a focused button
});

// ---------- errors ----------
function showError(field, message) {
  const el = form.querySelector(`[data-error-for="${field}"]`) || form.querySelector('[data-error-for="__all__"]');
  el.textContent = el.dataset.errorFor === field ? message : `${field.replaceAll("_", " ")}: ${message}`;
  el.hidden = false;
  const row = field === "watched_fraction" ? null : rowElement(field) || el.closest("fieldset");
  row?.classList.add("has-error");
}

function clearError(field) {
  const el = form.querySelector(`[data-error-for="${field}"]`);
  if (el) {
    el.hidden = true;
    el.textContent = "";
  }
  (rowElement(field) || el?.closest("fieldset"))?.classList.remove("has-error");
}

function clearErrors() {
  for (const el of form.querySelectorAll("[data-error-for]")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll(".has-error")) el.classList.remove("has-error");
}

function localErrors() {
  const errors = {};
  if (cannotJudge) {
    if (!document.getElementById("cannot-judge-reason").value.trim()) errors.cannot_judge_reason = "Say why you cannot judge this clip.";
  } else {
    for (const d of DIMS) {
      if (values[d] == null) errors[d] = `Choose a ${d} rating.`;
      if (config.askConfidence && values[`${d}_confidence`] == null) errors[`${d}_confidence`] = "Choose how sure you are.";
    }
    if (!watch.enough()) errors.watched_fraction = watch.problem();
  }
  return errors;
}

function refreshSubmit() {
  const ready = Object.keys(localErrors()).length === 0;
  if (ready && statusEl.dataset.local) setStatus(""); // the problems reported on submit are fixed
  submitBtn.classList.toggle("is-ready", ready && !sending);
  submitBtn.setAttribute("aria-disabled", String(!ready || sending));
  if (viewHint && !cannotJudge) viewHint.hidden = !config.requireFullView;
  if (viewHint && cannotJudge) viewHint.hidden = true;
}

// ---------- submission ----------
function buildBody() {
  const note = form.querySelector('[name="context_note"]');
  return {
    submission_id: submissionId,
    valence: cannotJudge ? null : values.valence,
    arousal: cannotJudge ? null : values.arousal,
    valence_confidence: cannotJudge || !config.askConfidence ? null : values.valence_confidence,
    arousal_confidence: cannotJudge || !config.askConfidence ? null : values.arousal_confidence,
    context_tags: [...form.querySelectorAll('input[name="context_tags"]:checked')].map((i) => i.value),
    context_note: note ? note.value.trim() : "",
    cannot_judge: cannotJudge,
    cannot_judge_reason: cannotJudge ? document.getElementById("cannot-judge-reason").value.trim() : "",
    time_on_task_ms: capTimeOnTask(performance.now() - startedAt), // the server refuses more than 24 h
    watched_fraction: watch.fraction(),
  };
}

async function send(record) {
  sending = true;
  refreshSubmit();
  document.body.classList.add("is-sending");
  setStatus("Saving your rating…");
  const { status, data } = await deliver(record, (wait) =>
    setStatus(`Connection problem — retrying in ${Math.round(wait / 1000)} s. Your rating is kept in this browser.`, "warn"),
  );
  sending = false;
  document.body.classList.remove("is-sending");
  if (status === 200 || status === 201) {
    store.remove(pendingKey);
    stopHeartbeat();
    setStatus("Saved. Loading the next clip…", "ok");
    window.location.assign(nextPageUrl || config.urls.queue);
    return;
  }
  if (status === 400) {
    store.remove(pendingKey); // the form is still here: corrected and sent again, it is stored again
    for (const [field, message] of Object.entries(data.errors || {})) showError(field, message);
    setStatus(data.detail || "The rating was not saved: please correct the marked fields.", "error");
  } else if (status === 409) {
    // Refused (rated from another tab with a different rating, clip withdrawn, …). A replay of this very
    // submission would have been a 200, so the rating stays stored in this browser; the user goes on.
    if (conflictIsThisSubmission(data, record)) store.remove(pendingKey);
    else markRejected(pendingKey, record, status, data);
    showRefused(`${data.detail || "This clip cannot be rated any more."} Your rating is kept in this browser.`);
  } else if (status === 410) {
    // The link or the clip may no longer be used (a self-report link expired or was switched off).
    markRejected(pendingKey, record, status, data);
    setStatus(data.detail || "This page can no longer be used.", "error");
  } else if (status === 404) {
    // Not this account's clip: someone else may have logged in on this computer. Kept for its own user.
    showRefused(
      `${data.detail || "This clip was not found for the account now logged in."} If someone else logged in on this computer, your rating is kept in this browser and sent the next time you open a clip while logged in as yourself.`,
    );
  } else {
    // 401/403 (session or CSRF expired): keep the rating stored; it is sent again when the page reloads.
    setStatus(`${data.detail || "You seem to be logged out."} Your rating is kept; reload the page to send it.`, "error");
  }
  refreshSubmit();
}

function showRefused(message) {
  setStatus(`${message} `, "error");
  const a = Object.assign(document.createElement("a"), { href: config.urls.queue, textContent: "Go to the next clip" });
  statusEl.append(a);
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  if (sending) return;
  clearErrors();
  const errors = localErrors();
  if (Object.keys(errors).length) {
    for (const [field, message] of Object.entries(errors)) if (field !== "watched_fraction") showError(field, message);
    if (errors.watched_fraction && viewHint) {
      viewHint.classList.remove("is-flash");
      void viewHint.offsetWidth; // restart the animation
      viewHint.classList.add("is-flash");
    }
    const first = Object.keys(errors).find((f) => f !== "watched_fraction");
    if (first && rows.includes(first)) activate(first);
    const parts = [errors.watched_fraction, first ? "Please complete the marked fields." : null];
    setStatus(parts.filter(Boolean).join(" "), "error", { local: true });
    return;
  }
  const record = { url: config.urls.annotation, body: buildBody(), savedAt: Date.now() };
  store.set(pendingKey, record);
  send(record);
});

// ---------- heartbeat and preload ----------
// Only a lease has a heartbeat: a participant's self-report page has no heartbeat URL.
let heartbeatTimer = config.urls.heartbeat
  ? setInterval(async () => {
      try {
        const res = await postJSON(config.urls.heartbeat);
        if (res.status === 409) setStatus("Your hold on this clip lapsed; your rating will still be saved.", "warn");
      } catch {
        /* offline: the next beat tries again */
      }
    }, config.heartbeatSeconds * 1000)
  : null;

function stopHeartbeat() {
  clearInterval(heartbeatTimer);
  heartbeatTimer = null;
}

async function preloadNext() {
  if (!config.preload) {
    preloadSettled = true; // the first rating comes first; the queue page picks the next clip after it
    return;
  }
  try {
    const res = await postJSON(config.urls.next, { exclude: [config.assignmentId] });
    if (res.status === 204) {
      nothingNext = true;
      submitBtn.firstChild.textContent = "Submit and finish ";
      return;
    }
    // 409 before the first rating in the study (one clip at a time until then), or a busy queue: no
    // preload; the queue page picks the next clip after submitting.
    if (res.status !== 201 && res.status !== 200) return;
    const next = await res.json();
    if (next.id === config.assignmentId) return;
    nextPageUrl = next.page_url;
    preloadClip(document.getElementById("preload-box"), next.clip?.media_url, next.clip?.poster_url);
  } catch {
    /* no preload: the queue page picks the next clip after submitting */
  } finally {
    preloadSettled = true;
  }
}

window.addEventListener("beforeunload", (e) => {
  if (sending) e.preventDefault();
});

// ---------- start ----------
activate(rows[0], { focus: false });
updateViewHint();
refreshSubmit();
if (pending?.body && pending.rejected) {
  showRefused(`A rating you made earlier on this clip was not accepted: ${pending.rejected.detail || "it was refused."}`);
} else if (pending?.body) {
  setStatus("Sending the rating you made earlier on this clip…");
  send(pending);
}
flushPending({ userId: config.userId, exceptKey: pendingKey });
const get = {
  nextPageUrl: () => nextPageUrl,
  nothingNext: () => nothingNext,
  preloadSettled: () => preloadSettled,
};
window.ratingPage = { values, player, submissionId, pendingKey, watch, buildBody };
for (const [name, fn] of Object.entries(get)) Object.defineProperty(window.ratingPage, name, { get: fn });
