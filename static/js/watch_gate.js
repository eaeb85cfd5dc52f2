// "Watched to the end", as the server counts it: the union of the intervals actually played (seeking over a
// part does not count) as a fraction of the duration, rounded as it is sent, against the server's
// FULL_VIEW_FRACTION rendered into the page. The hint under the player says how much is still to watch.

const CHECK_ICON = "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z";

export function createWatchGate({ tracker, threshold, required, hint, hintText }) {
  const icon = hint?.querySelector("path");
  const playIcon = icon?.getAttribute("d");
  const fraction = () => Math.round(tracker.fraction() * 1000) / 1000;
  const enough = () => !required || fraction() >= threshold;

  /** How much is still to watch, in words ("about 1.4 s (35% of the clip)"), or "" when enough. */
  function left() {
    const missing = threshold - fraction();
    if (missing <= 0) return "";
    const pct = `${Math.max(1, Math.ceil(missing * 100))}%`;
    const seconds = tracker.duration * missing;
    return seconds > 0 ? `about ${Math.max(0.1, seconds).toFixed(1)} s (${pct} of the clip)` : pct;
  }

  /** The message for a submit attempt that comes too early. */
  function problem() {
    if (enough()) return "";
    return fraction() > 0
      ? `Watch the clip to the end before rating it (still to watch: ${left()}).`
      : "Watch the clip to the end before rating it.";
  }

  /** Refresh the hint; returns true when enough has been watched. */
  function update() {
    const met = enough();
    if (!hint || !hintText || !required) return met;
    hint.classList.toggle("is-met", met);
    icon?.setAttribute("d", met ? CHECK_ICON : playIcon);
    const watched = Math.floor(fraction() * 100);
    if (met) hintText.textContent = "Watched to the end — you can submit.";
    else if (watched === 0) hintText.textContent = "Watch the clip to the end — then your rating can be sent.";
    else if (tracker.reachedEnd)
      hintText.textContent = `Watched ${watched}%: skipped parts do not count. Still to watch: ${left()} — play it again to send your rating.`;
    else hintText.textContent = `Watched ${watched}% — still to watch: ${left()}, then your rating can be sent.`;
    return met;
  }

  return { fraction, enough, left, problem, update, threshold };
}
