// Talking to the annotation API from the page: CSRF, JSON POSTs, pending submissions kept in localStorage
// until the server acknowledges them, and delivery that retries network failures with the same body.

export const PENDING_PREFIX = "affect-labels:pending:";

export function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context; this does not
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (m) return decodeURIComponent(m[1]);
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch {
    return "";
  }
}

export function postJSON(url, body) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body ?? {}),
  });
}

export const store = {
  get(key) {
    try {
      return JSON.parse(localStorage.getItem(key));
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      /* storage full or disabled: the retry loop still holds the submission in memory */
    }
  },
  remove(key) {
    try {
      localStorage.removeItem(key);
    } catch {
      /* ignore */
    }
  },
  keys() {
    try {
      return Object.keys(localStorage).filter((k) => k.startsWith(PENDING_PREFIX));
    } catch {
      return [];
    }
  },
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** POST until the server answers with something other than a network failure or a 5xx/429. */
export async function deliver(record, onRetry) {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await postJSON(record.url, record.body);
      if (res.status < 500 && res.status !== 429) {
        let data = {};
        try {
          data = await res.json();
        } catch {
          /* empty or non-JSON body */
        }
        return { status: res.status, data };
      }
    } catch {
      /* offline or connection dropped: retry with the same submission id */
    }
    const wait = Math.min(30000, 1000 * 2 ** attempt);
    onRetry?.(wait);
    await sleep(wait);
  }
}

// A submission this page (or an earlier tab) could not deliver is sent again now, with its submission id.
export async function flushPending(exceptKey) {
  for (const key of store.keys()) {
    if (key === exceptKey) continue;
    const record = store.get(key);
    if (!record?.url) {
      store.remove(key);
      continue;
    }
    const { status } = await deliver(record);
    if (status !== 401 && status !== 403) store.remove(key);
  }
}
