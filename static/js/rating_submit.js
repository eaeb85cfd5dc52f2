// Talking to the annotation API from the page: CSRF, JSON POSTs, pending submissions kept in localStorage
// until the server acknowledges them, and delivery that retries network failures with the same body.
//
// Pending records are keyed by user and study ("affect-labels:pending:u<user>:s<study>:a<assignment>"), so
// on a shared lab computer one person's unsent rating is never sent, nor dropped, by someone else's page.

export const PENDING_PREFIX = "affect-labels:pending:";
// The server refuses time_on_task_ms above 24 h; a page left open longer still sends its rating.
export const MAX_TIME_ON_TASK_MS = 24 * 3600 * 1000 - 1;

export const pendingKey = ({ userId, studyId, assignmentId }) =>
  `${PENDING_PREFIX}u${userId}:s${studyId}:a${assignmentId}`;
const userPrefix = (userId) => `${PENDING_PREFIX}u${userId}:`;

export const capTimeOnTask = (ms) => Math.max(0, Math.min(MAX_TIME_ON_TASK_MS, Math.round(ms)));

/** A 409 may drop the stored record only if it says this very submission is the one already stored. */
export const conflictIsThisSubmission = (data, record) =>
  Boolean(data?.submission_id) && data.submission_id === record?.body?.submission_id;

/** Keep a record the server refused (409/400) without sending it again by itself: the rating is not lost. */
export function markRejected(key, record, status, data) {
  const kept = { ...record, rejected: { status, detail: data?.detail || "", at: Date.now() } };
  store.set(key, kept);
  return kept;
}

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
  keys(prefix = PENDING_PREFIX) {
    try {
      return Object.keys(localStorage).filter((k) => k.startsWith(prefix));
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

// This user's submissions that an earlier page or tab could not deliver are sent again now, with their
// submission ids. Other users' records are not touched. Only an acknowledgement (200/201) removes a record;
// a refusal (400/409, or 410 from a self-report link that no longer works) keeps it, marked, and it is not
// sent again; 401/403/404 (logged out, or someone else
// logged in meanwhile) keep it for the next page of its own user.
export async function flushPending({ userId, exceptKey }) {
  if (userId == null) return;
  for (const key of store.keys(userPrefix(userId))) {
    if (key === exceptKey) continue;
    const record = store.get(key);
    if (!record?.url || !record?.body || record.rejected) continue;
    const { status, data } = await deliver(record);
    if (status === 200 || status === 201) store.remove(key);
    else if (status === 409 && conflictIsThisSubmission(data, record)) store.remove(key);
    else if (status === 400 || status === 409 || status === 410) markRejected(key, record, status, data);
  }
}
