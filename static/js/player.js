// The clip player: play/pause, time, and how much of the clip was actually watched.
// Watched fraction = length of the union of played intervals / duration (seeking does not count as watching).

const JUMP_TOLERANCE_S = 1.0; // a gap larger than this between time updates is a seek, not playback

export class WatchTracker {
  constructor(duration) {
    this.duration = duration > 0 ? duration : 0;
    this.intervals = []; // sorted, disjoint [start, end] pairs
    this.reachedEnd = false;
  }

  setDuration(duration) {
    if (Number.isFinite(duration) && duration > 0) this.duration = duration;
  }

  add(start, end) {
    if (!(end > start)) return;
    const merged = [];
    let [s, e] = [start, end];
    for (const [a, b] of this.intervals) {
      if (b < s || a > e) merged.push([a, b]);
      else [s, e] = [Math.min(a, s), Math.max(b, e)];
    }
    merged.push([s, e]);
    merged.sort((x, y) => x[0] - y[0]);
    this.intervals = merged;
  }

  watchedSeconds() {
    return this.intervals.reduce((sum, [a, b]) => sum + (b - a), 0);
  }

  fraction() {
    if (!this.duration) return 0;
    return Math.max(0, Math.min(1, this.watchedSeconds() / this.duration));
  }
}

function fmt(seconds) {
  if (!Number.isFinite(seconds)) return "0:00";
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return `${m}:${rest.toFixed(1).padStart(4, "0")}`;
}

/**
 * Wire a <video> to its controls; `fullAt` is the watched fraction that counts as the whole clip. Callbacks: onFirstPlay(), onProgress(fraction), onEnded(fraction), onError(MediaError).
 */
export function setupPlayer({ video, playButton, replayButton, muteButton, bigPlay, timeEl, fillEl, labelEl, duration, fullAt = 1, ...cb }) {
  const tracker = new WatchTracker(duration);
  let last = null; // media time of the previous update while playing
  let firstPlay = true;

  const render = () => {
    const f = tracker.fraction();
    const total = Number.isFinite(video.duration) && video.duration > 0 ? video.duration : tracker.duration;
    if (timeEl) timeEl.textContent = `${fmt(video.currentTime)} / ${fmt(total)}`;
    if (fillEl) fillEl.style.width = `${(f * 100).toFixed(1)}%`;
    // "To the end" only when enough was played (fullAt): reaching the end after a seek is not watching it.
    if (labelEl) labelEl.textContent = tracker.reachedEnd && f >= fullAt ? "Watched to the end" : `Watched ${Math.floor(f * 100)}%`;
    cb.onProgress?.(f);
  };

  const sample = () => {
    const t = video.currentTime;
    if (last !== null && t >= last && t - last <= JUMP_TOLERANCE_S) tracker.add(last, t);
    last = t;
    render();
  };

  video.addEventListener("loadedmetadata", () => {
    tracker.setDuration(video.duration);
    render();
  });
  video.addEventListener("play", () => {
    last = video.currentTime;
    document.body.classList.add("is-playing");
    playButton?.setAttribute("aria-label", "Pause (Space)");
  });
  video.addEventListener("playing", () => {
    if (firstPlay) {
      firstPlay = false;
      cb.onFirstPlay?.();
    }
  });
  video.addEventListener("pause", () => {
    sample();
    last = null;
    document.body.classList.remove("is-playing");
    playButton?.setAttribute("aria-label", "Play (Space)");
  });
  video.addEventListener("timeupdate", () => {
    if (!video.paused) sample();
    else render();
  });
  video.addEventListener("seeking", () => {
    last = null;
  });
  video.addEventListener("seeked", () => {
    if (!video.paused) last = video.currentTime; // "play again" seeks to 0 while playing: count from there
  });
  video.addEventListener("ended", () => {
    const end = Number.isFinite(video.duration) ? video.duration : tracker.duration;
    if (last !== null && end - last <= JUMP_TOLERANCE_S) tracker.add(last, end);
    last = null;
    tracker.reachedEnd = true;
    document.body.classList.add("has-ended");
    render();
    cb.onEnded?.(tracker.fraction());
  });

  const toggle = () => {
    if (video.paused || video.ended) {
      if (video.ended) video.currentTime = 0;
      const p = video.play();
      p?.catch(() => {}); // autoplay rules or a decode error: the user can press play again
    } else {
      video.pause();
    }
  };
  const replay = () => {
    video.currentTime = 0;
    video.play()?.catch(() => {});
  };
  const toggleMute = () => {
    video.muted = !video.muted;
    muteButton?.setAttribute("aria-pressed", String(video.muted));
    muteButton?.setAttribute("aria-label", video.muted ? "Unmute sound" : "Mute sound");
    document.body.classList.toggle("is-muted", video.muted);
  };
  muteButton?.addEventListener("click", toggleMute);
  video.addEventListener("error", () => cb.onError?.(video.error));
  playButton?.addEventListener("click", toggle);
  bigPlay?.addEventListener("click", toggle);
  replayButton?.addEventListener("click", replay);
  video.addEventListener("click", toggle);
  render();
  return { tracker, toggle, toggleMute, replay, video };
}

/** Start downloading another clip without showing it (the next one in the queue). */
export function preloadClip(container, mediaUrl, posterUrl) {
  if (!container || !mediaUrl) return;
  container.replaceChildren();
  const v = document.createElement("video");
  v.preload = "auto";
  v.muted = true;
  v.src = mediaUrl;
  v.setAttribute("aria-hidden", "true");
  v.tabIndex = -1;
  container.append(v);
  v.load();
  if (posterUrl) new Image().src = posterUrl;
}
