// Ringflow dashboard: one Alpine.js component per page, each reading and writing the JSON REST API
// (/v1/...) with the HttpOnly session cookie the browser sends on its own. Nothing here holds the session
// id; a write sends the session's CSRF token (the page's <meta name="csrf-token">) in X-CSRF-Token.
"use strict";

// ---- talking to the API ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body; // the parsed error body: some carry more than `detail` (an import report)
  }
}

/** The readable message of an error body: FastAPI's {detail: "..."} or {detail: [{loc, msg}, ...]}. */
function errorMessage(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((d) => {
        const where = (d.loc || []).filter((part) => part !== "body" && part !== "query").join(".");
        return where ? `${where}: ${d.msg}` : d.msg;
      })
      .join("; ");
  }
  return `The server answered ${status}.`;
}

function toLogin() {
  const here = window.location.pathname + window.location.search;
  window.location.assign(`/login?next=${encodeURIComponent(here)}`);
}

/** The session's CSRF token, which the API asks of every write made with the session cookie. */
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** fetch() against the API: JSON in and out, FormData passed through; errors become toasts. */
async function api(method, path, body, { quiet = false } = {}) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (networkError) {
    const error = new ApiError(0, "Cannot reach the Ringflow API. Is the server running?");
    if (!quiet) toast(error.message, "error");
    throw error;
  }
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, "Your session has ended; log in again.");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, errorMessage(data, response.status), data);
    if (!quiet) toast(error.message, "error");
    throw error;
  }
  return data;
}

/** A query string from the filled-in fields of `params` only. */
function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const enc = encodeURIComponent;

const WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** Weekdays (0 = Monday) as typed: "all", "mon-fri", or "mon,wed,sat". */
function weekdaysText(days) {
  const sorted = [...days].sort((a, b) => a - b);
  if (sorted.length === 7) return "all";
  const run = sorted.length > 2 && sorted.every((day, i) => i === 0 || day === sorted[i - 1] + 1);
  if (run) return `${WEEKDAY_NAMES[sorted[0]]}-${WEEKDAY_NAMES[sorted[sorted.length - 1]]}`;
  return sorted.map((day) => WEEKDAY_NAMES[day]).join(",");
}

/** "mon-fri 09:00-17:30; sat 10:00-13:00" as calling windows; throws an Error saying what is wrong. */
function parseHours(text) {
  const dayOf = (name) => {
    const day = WEEKDAY_NAMES.indexOf(name.trim().toLowerCase().slice(0, 3));
    if (day < 0) throw new Error(`${name.trim()} is not a weekday (mon, tue, ... sun)`);
    return day;
  };
  const windows = text.split(";").map((part) => part.trim()).filter(Boolean).map((part) => {
    const match = part.match(/^(\S+)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$/);
    if (!match) throw new Error(`"${part}": give the days, then the hours, e.g. mon-fri 09:00-17:00`);
    const [, daysText, start, end] = match;
    let weekdays = [];
    if (daysText.toLowerCase() === "all") weekdays = [0, 1, 2, 3, 4, 5, 6];
    for (const piece of daysText.toLowerCase() === "all" ? [] : daysText.split(",")) {
      const [first, last] = piece.split("-");
      const from = dayOf(first);
      const to = last === undefined ? from : dayOf(last);
      for (let day = from; ; day = (day + 1) % 7) {
        weekdays.push(day);
        if (day === to) break;
      }
    }
    return { start: start.padStart(5, "0"), end: end.padStart(5, "0"), weekdays: [...new Set(weekdays)] };
  });
  if (!windows.length) throw new Error("give at least one window of open hours");
  return windows;
}

/** POST the file chosen in a file input as the multipart field `file`; null when none was chosen.
 *  The input is cleared afterwards, so choosing the same file again uploads it again. */
async function uploadChosenFile(event, path) {
  const file = event.target.files[0];
  if (!file) return null;
  const form = new FormData();
  form.append("file", file);
  try {
    return await api("POST", path, form);
  } finally {
    event.target.value = "";
  }
}

// ---- toasts ----------------------------------------------------------------------------------------

let toastSeq = 0;
function toast(message, kind = "info", timeoutMs = 6000) {
  const store = window.Alpine && Alpine.store("toasts");
  if (!store) return;
  const id = ++toastSeq;
  store.items.push({ id, message, kind });
  setTimeout(() => store.dismiss(id), timeoutMs);
}

// ---- formatting ------------------------------------------------------------------------------------

const GOOD = new Set(["completed", "qualified", "answered"]);
const WARN = new Set(["callback_requested", "voicemail", "busy", "no_answer", "paused", "callback_expired", "skipped"]);
const BAD = new Set(["failed", "invalid_number", "do_not_call", "not_interested", "unreachable", "cancelled"]);
const LIVE = new Set(["running", "in-progress", "in_progress", "dialling", "active"]);

const fmt = {
  label(value) {
    if (value === null || value === undefined || value === "") return "—";
    const text = String(value).replace(/[_-]+/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  },
  tone(value) {
    if (GOOD.has(value)) return "good";
    if (WARN.has(value)) return "warn";
    if (BAD.has(value)) return "bad";
    if (LIVE.has(value)) return "info live";
    return "idle";
  },
  date(value) {
    if (!value) return "—";
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  },
  time(value) {
    if (!value) return "";
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString(undefined, { timeStyle: "medium" });
  },
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const total = Math.round(Number(seconds));
    if (total < 60) return `${total}s`;
    const minutes = Math.floor(total / 60);
    if (minutes < 60) return `${minutes}m ${String(total % 60).padStart(2, "0")}s`;
    return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  },
  percent(ratio) {
    if (ratio === null || ratio === undefined) return "—";
    return `${Math.round(Number(ratio) * 1000) / 10}%`;
  },
  money(usd) {
    if (usd === null || usd === undefined) return "—";
    return `$${Number(usd).toFixed(2)}`;
  },
  number(value) {
    return value === null || value === undefined ? "—" : Number(value).toLocaleString();
  },
};

// Colours of the outcome chart, by outcome; anything unknown gets the neutral grey.
const OUTCOME_COLOURS = {
  completed: "#1f9d6b",
  qualified: "#0e7c86",
  not_interested: "#e07a5f",
  invalid_number: "#b42318",
  do_not_call: "#7a271a",
  unreachable: "#c98a06",
  cancelled: "#8a94a6",
  callback_expired: "#9e77ed",
  skipped: "#98a2b3",
  voicemail: "#f2b84b",
  no_answer: "#d0d5dd",
  busy: "#f79009",
  failed: "#d92d20",
  callback_requested: "#6172f3",
};

// ---- live updates ----------------------------------------------------------------------------------

/**
 * Follows a server-sent event stream of JSON snapshots. EventSource reconnects by itself after a
 * dropped connection; `onLive(false)` reports the gap so the page can say it is not live.
 */
function follow(path, onSnapshot, onLive, isOver = () => false) {
  const source = new EventSource(path, { withCredentials: true });
  const handle = (event) => {
    try {
      onSnapshot(JSON.parse(event.data));
    } catch (error) {
      console.error("bad event", error);
    }
  };
  source.onmessage = handle;
  source.onopen = () => onLive(true);
  source.onerror = () => {
    // A stream that ends on purpose (the campaign is over) must not be reopened.
    if (isOver()) source.close();
    onLive(false);
  };
  window.addEventListener("beforeunload", () => source.close());
  return source;
}

function progressBarClass(campaign) {
  if (campaign.status === "completed") return "done";
  if (campaign.status === "cancelled" || campaign.status === "cancelling") return "stopped";
  return "";
}

/** White gaps between the doughnut's slices; a lone slice gets none (it would show a seam). */
function sliceBorder(data) {
  return data.length > 1 ? 2 : 0;
}

/** Offset paging for a component whose method `load` fetches the current page (see the `pager` macro). */
function paging(load, limit = 50) {
  return {
    offset: 0,
    limit,
    page(step) {
      this.offset = Math.max(0, this.offset + step * this.limit);
      this[load]();
    },
  };
}

/** Cursor paging for a component whose method `load` fetches the page that starts at `cursor` (null: the first)
 * and sets `nextCursor` from the answer (see the `cursor_pager` macro). Previous pages are a stack of the
 * cursors they started at, so going back asks again for the same page; nothing counts the whole list. */
function cursorPaging(load, limit = 50) {
  return {
    limit,
    cursor: null,
    nextCursor: null,
    previousCursors: [],
    nextPage() {
      if (!this.nextCursor) return;
      this.previousCursors.push(this.cursor);
      this.cursor = this.nextCursor;
      this[load]();
    },
    previousPage() {
      if (this.previousCursors.length === 0) return;
      this.cursor = this.previousCursors.pop();
      this[load]();
    },
    firstPage() {
      this.previousCursors = [];
      this.cursor = null;
      this[load]();
    },
    // The list's query for the current page: a first page asks for no total.
    pageQuery() {
      return this.cursor ? { limit: this.limit, cursor: this.cursor } : { limit: this.limit, with_total: "false" };
    },
  };
}

// A page that lists one /v1 collection by offset: its rows land in `field`, loaded on init and on paging.
function pagedList(path, field, limit) {
  return {
    [field]: [],
    total: 0,
    ...paging("load", limit),
    loading: true,
    async init() {
      await this.load();
    },
    async load() {
      this.loading = true;
      try {
        const page = await api("GET", `${path}${query({ limit: this.limit, offset: this.offset })}`);
        this[field] = page.items;
        this.total = page.total;
      } finally {
        this.loading = false;
      }
    },
  };
}

const FINISHED_CAMPAIGN_STATES = new Set(["completed", "cancelled"]);

// ---- pages -----------------------------------------------------------------------------------------

document.addEventListener("alpine:init", () => {
  Alpine.store("toasts", {
    items: [],
    dismiss(id) {
      this.items = this.items.filter((item) => item.id !== id);
    },
  });

  // The campaign list: one load, then the event stream replaces the whole list about once a second.
  Alpine.data("campaignList", () => ({
    campaigns: [],
    loading: true,
    live: false,
    async start() {
      try {
        const page = await api("GET", "/v1/campaigns?limit=200");
        this.campaigns = page.items;
      } finally {
        this.loading = false;
      }
      follow(
        "/v1/campaigns/events",
        (snapshot) => {
          this.campaigns = snapshot.campaigns;
        },
        (live) => {
          this.live = live;
        },
      );
    },
    barClass: progressBarClass,
    open(campaign, event) {
      if (event.target.closest("a")) return;
      window.location.assign(`/campaigns/${enc(campaign.id)}`);
    },
  }));

  // New campaign: a CSV upload with the campaign's main settings, then the import report line by line.
  Alpine.data("newCampaign", () => ({
    agents: [],
    name: "",
    agentName: "",
    file: null,
    dragging: false,
    maxConcurrent: 10,
    callsPerSecond: 1,
    maxAttempts: 4,
    windowStart: "09:00",
    windowEnd: "20:00",
    weekdays: [0, 1, 2, 3, 4],
    allDay: false,
    startNow: true,
    submitting: false,
    result: null,
    rejected: null,
    weekdayNames: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    async init() {
      const page = await api("GET", "/v1/agents");
      this.agents = page.items.filter((agent) => agent.active);
    },
    pick(event) {
      this.file = event.target.files[0] || null;
      this.rejected = null;
      if (this.file && !this.name) this.name = this.file.name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ");
    },
    drop(event) {
      this.dragging = false;
      const file = event.dataTransfer.files[0];
      if (!file) return;
      this.$refs.file.files = event.dataTransfer.files;
      this.pick({ target: { files: [file] } });
    },
    get report() {
      return (this.result && this.result.import_report) || this.rejected;
    },
    settings() {
      const hours = this.allDay
        ? { start: "00:00", end: "00:00", weekdays: [0, 1, 2, 3, 4, 5, 6] }
        : { start: this.windowStart, end: this.windowEnd, weekdays: this.weekdays.map(Number) };
      return {
        max_concurrent_calls: Number(this.maxConcurrent),
        calls_per_second: Number(this.callsPerSecond),
        retry: { max_attempts: Number(this.maxAttempts) },
        window: hours,
      };
    },
    async submit() {
      if (!this.file) {
        toast("Choose a CSV file of contacts first.", "error");
        return;
      }
      const form = new FormData();
      form.append("file", this.file);
      form.append("name", this.name.trim() || this.file.name);
      if (this.agentName) form.append("agent_name", this.agentName);
      form.append("settings", JSON.stringify(this.settings()));
      form.append("start", this.startNow ? "true" : "false");
      this.submitting = true;
      try {
        this.result = await api("POST", "/v1/campaigns/upload", form);
        const report = this.result.import_report;
        toast(`${report.imported} contact(s) imported`, report.errors.length ? "info" : "success");
      } catch (error) {
        // Every row rejected: no campaign, but the report says which line failed and why.
        this.rejected = error.body && error.body.import_report ? error.body.import_report : null;
      } finally {
        this.submitting = false;
      }
    },
    reset() {
      this.result = null;
      this.file = null;
      this.name = "";
      this.$refs.file.value = "";
    },
  }));

  // One campaign: live counters from its event stream, the outcome chart, controls, stats, contacts.
  Alpine.data("campaignPage", (campaignId) => {
    let chart = null; // Chart.js must not be wrapped in Alpine's reactive proxy
    let lastFinished = -1;
    return {
      id: campaignId,
      campaign: null,
      stats: null,
      contacts: [],
      outcomeFilter: "",
      ...cursorPaging("loadContacts"),
      live: false,
      acting: false,
      uploading: false,
      addReport: null,
      notFound: false,
      outcomes: [
        "completed", "qualified", "not_interested", "invalid_number", "do_not_call",
        "unreachable", "cancelled", "callback_expired", "skipped",
      ],
      async init() {
        try {
          this.show(await api("GET", `/v1/campaigns/${enc(this.id)}`, undefined, { quiet: true }));
        } catch (error) {
          if (error.status === 404) {
            this.notFound = true;
            return;
          }
          toast(error.message, "error");
        }
        follow(
          `/v1/campaigns/${enc(this.id)}/events`,
          (snapshot) => this.show(snapshot),
          (live) => {
            this.live = live;
          },
          () => this.ended,
        );
      },
      show(campaign) {
        this.campaign = campaign;
        document.title = `${campaign.name} · Ringflow`;
        this.drawChart();
        const finished = campaign.contacts.finished + campaign.contacts.cancelled;
        if (finished !== lastFinished) {
          lastFinished = finished;
          this.refresh();
        }
      },
      async refresh() {
        await Promise.all([this.loadContacts(), this.loadStats()]);
      },
      async loadStats() {
        this.stats = await api("GET", `/v1/campaigns/${enc(this.id)}/stats`);
      },
      // By cursor: the campaign's counts above give the totals, so the table counts nothing.
      async loadContacts() {
        const page = await api(
          "GET",
          `/v1/contacts${query({ campaign_id: this.id, outcome: this.outcomeFilter, ...this.pageQuery() })}`,
        );
        this.contacts = page.items;
        this.nextCursor = page.next_cursor;
      },
      filter() {
        this.firstPage();
      },
      // The contact's latest call, straight to its transcript.
      callHref(contact) {
        return contact.last_call_id ? `/calls/${enc(contact.last_call_id)}` : null;
      },
      get activity() {
        const p = this.campaign && this.campaign.progress;
        if (!p) return null;
        // In flight from the workflow; dials from the store (its call stats), their one owner.
        return {
          dials: this.stats ? this.stats.calls : 0,
          starting: p.starting,
          in_call: p.in_call,
          waiting_slot: p.waiting_slot,
          waiting_retry: p.waiting_retry,
          waiting_callback: p.waiting_callback,
          outside_hours: p.waiting_window,
        };
      },
      get ended() {
        return Boolean(this.campaign && FINISHED_CAMPAIGN_STATES.has(this.campaign.status));
      },
      get finishedCount() {
        return this.campaign ? this.campaign.contacts.finished + this.campaign.contacts.cancelled : 0;
      },
      can(action) {
        const status = this.campaign && this.campaign.status;
        return {
          start: status === "draft",
          pause: status === "running",
          resume: status === "paused",
          cancel: status === "running" || status === "paused" || status === "draft",
        }[action];
      },
      async act(action) {
        const question = "Cancel this campaign? Calls in progress finish; nobody else is called.";
        if (action === "cancel" && !window.confirm(question)) return;
        this.acting = true;
        try {
          const body = action === "cancel" ? { reason: "cancelled from the dashboard" } : undefined;
          this.show(await api("POST", `/v1/campaigns/${enc(this.id)}/${action}`, body));
          const done = { start: "started", pause: "paused", resume: "resumed", cancel: "cancelled" }[action];
          toast(`Campaign ${done}`, "success");
        } finally {
          this.acting = false;
        }
      },
      async addContacts(event) {
        this.uploading = true;
        try {
          const result = await uploadChosenFile(event, `/v1/campaigns/${enc(this.id)}/contacts/upload`);
          if (!result) return;
          this.addReport = result.import_report;
          this.show(result.campaign);
          await this.loadContacts(); // new rows change no finished count, so show() would not reload them
          toast(`${result.import_report.imported} contact(s) added`, "success");
        } finally {
          this.uploading = false;
        }
      },
      drawChart() {
        const canvas = this.$refs.chart;
        if (!canvas || !window.Chart) return;
        const entries = Object.entries(this.campaign.outcomes || {}).filter(([, count]) => count > 0);
        const labels = entries.map(([outcome]) => fmt.label(outcome));
        const data = entries.map(([, count]) => count);
        const colours = entries.map(([outcome]) => OUTCOME_COLOURS[outcome] || "#98a2b3");
        if (chart) {
          chart.data.labels = labels;
          chart.data.datasets[0].data = data;
          chart.data.datasets[0].backgroundColor = colours;
          chart.data.datasets[0].borderWidth = sliceBorder(data);
          chart.update();
          return;
        }
        chart = new Chart(canvas, {
          type: "doughnut",
          data: {
            labels,
            datasets: [{ data, backgroundColor: colours, borderWidth: sliceBorder(data), borderColor: "#fff" }],
          },
          options: {
            responsive: true,
            maintainAspectRatio: false,
            cutout: "62%",
            animation: false, // the first drawing appears at once; later updates animate (below)
            plugins: { legend: { position: "right", labels: { boxWidth: 12, padding: 12 } } },
          },
        });
        chart.options.animation = { duration: 400 };
      },
      barClass: progressBarClass,
    };
  });

  // Every call, outbound and inbound, filtered like GET /v1/calls.
  Alpine.data("callList", () => ({
    calls: [],
    total: 0,
    loading: true,
    filters: { campaign_id: "", outcome: "", agent: "", since: "", until: "" },
    agents: [],
    campaignNames: {},
    ...paging("load"),
    outcomes: [
      "completed", "qualified", "no_answer", "busy", "failed", "voicemail",
      "callback_requested", "not_interested", "invalid_number", "do_not_call",
    ],
    async init() {
      const params = new URLSearchParams(window.location.search);
      for (const key of Object.keys(this.filters)) this.filters[key] = params.get(key) || "";
      api("GET", "/v1/agents").then((page) => {
        this.agents = page.items;
      });
      api("GET", "/v1/campaigns?limit=500").then((page) => {
        this.campaignNames = Object.fromEntries(page.items.map((campaign) => [campaign.id, campaign.name]));
      });
      await this.load();
    },
    async load() {
      this.loading = true;
      const filters = { ...this.filters };
      // The date inputs give local calendar days; the API wants instants.
      if (filters.since) filters.since = new Date(`${filters.since}T00:00:00`).toISOString();
      if (filters.until) filters.until = new Date(`${filters.until}T23:59:59.999`).toISOString();
      try {
        const page = await api("GET", `/v1/calls${query({ ...filters, limit: this.limit, offset: this.offset })}`);
        this.calls = page.items;
        this.total = page.total;
      } finally {
        this.loading = false;
      }
    },
    filter() {
      this.offset = 0;
      const shown = query(this.filters);
      window.history.replaceState(null, "", `/calls${shown}`);
      this.load();
    },
    open(call, event) {
      if (event.target.closest("a")) return;
      window.location.assign(`/calls/${enc(call.id)}`);
    },
  }));

  // One call: transcript as a chat, notes, shared information by category, callbacks, live context.
  Alpine.data("callPage", (callId) => ({
    id: callId,
    call: null,
    recording: null,
    notFound: false,
    contextText: "{\n  \n}",
    replaceContext: false,
    sending: false,
    async init() {
      try {
        this.call = await api("GET", `/v1/calls/${enc(this.id)}`, undefined, { quiet: true });
        document.title = `Call with ${this.call.contact_name || this.call.phone} · Ringflow`;
        if (this.call.recordings.length) {
          this.recording = await api("GET", `/v1/calls/${enc(this.id)}/recording`, undefined, { quiet: true });
        }
      } catch (error) {
        if (error.status === 404) this.notFound = true;
        else toast(error.message, "error");
      }
    },
    get categories() {
      return Object.entries((this.call && this.call.information) || {}).filter(([, items]) => items.length);
    },
    get inProgress() {
      return this.call && !this.call.ended_at;
    },
    analysing: false,
    async rerunAnalysis() {
      this.analysing = true;
      try {
        this.call.analysis = await api("POST", `/v1/calls/${enc(this.id)}/analysis`);
        toast("Analysed again.");
      } catch (error) {
        toast(error.message, "error");
      } finally {
        this.analysing = false;
      }
    },
    async sendContext() {
      let data;
      try {
        data = JSON.parse(this.contextText);
      } catch {
        toast("The context must be a JSON object.", "error");
        return;
      }
      if (data === null || typeof data !== "object" || Array.isArray(data)) {
        toast("The context must be a JSON object.", "error");
        return;
      }
      this.sending = true;
      try {
        await api("PATCH", `/v1/calls/${enc(this.id)}/context`, { data, replace: this.replaceContext });
        toast("The agent sees the new context on its next turn.", "success");
      } finally {
        this.sending = false;
      }
    },
  }));

  // Agents: the list, with each agent's call stats.
  Alpine.data("agentList", () => ({
    agents: [],
    stats: {},
    loading: true,
    async init() {
      try {
        this.agents = (await api("GET", "/v1/agents")).items;
      } finally {
        this.loading = false;
      }
      for (const agent of this.agents) {
        api("GET", `/v1/agents/${enc(agent.name)}/stats`, undefined, { quiet: true }).then((stats) => {
          this.stats = { ...this.stats, [agent.name]: stats };
        });
      }
    },
  }));

  // The agent page's web call: the LiveKit Room the browser joined, if any.
  let webCallRoom = null;
  // The vendored LiveKit client (large), loaded the first time a web call starts rather than with the page.
  let livekitClient = null;
  function loadLivekitClient() {
    livekitClient ??= new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/livekit-client/livekit-client.umd.js";
      script.onload = () => resolve(window.LivekitClient);
      script.onerror = () => {
        livekitClient = null;
        reject(new Error("the LiveKit client did not load"));
      };
      document.head.appendChild(script);
    });
    return livekitClient;
  }
  // The agent editor: create, or change any field of, one agent; tools are one checkbox each. An agent saved can be
  // talked to: a web call (the browser in the agent's room) or a text chat, each recorded as one of its calls.
  Alpine.data("agentEditor", (agentName, toolNames, speakers) => ({
    existing: agentName,
    agent: {
      name: "",
      disclosure: "",
      greeting: "",
      instructions: "",
      language: "en",
      voice: "alloy",
      model_mode: "pipeline",
      stt: { provider: "openai", model: "", language: "" },
      llm: { provider: "openai", model: "", temperature: null },
      tts: { provider: "openai", model: "" },
      realtime: { provider: "openai", model: "", temperature: null },
      transfer_number: "",
      voicemail_message: "",
      recording: false,
      active: true,
      tools: Object.fromEntries(toolNames.map((tool) => [tool, true])),
      http_tools: [],
      departments: [],
    },
    httpTools: [],
    departments: [],
    contextText: "{}",
    speaking: "tts:openai",
    stats: null,
    loading: Boolean(agentName),
    saving: false,
    notFound: false,
    testCall: { phone: "", name: "", context: "" },
    calling: false,
    // The web call (a LiveKit room the browser joins) and the text chat, each a call of the agent's.
    talk: { phone: "", status: "", joining: false, inCall: false, sid: null, callId: null, chat: null, starting: false, sending: false, message: "", lines: [] },
    async init() {
      [this.httpTools, this.departments] = await Promise.all([api("GET", "/v1/tools"), api("GET", "/v1/departments")]);
      if (!this.existing) return;
      try {
        const agent = await api("GET", `/v1/agents/${enc(this.existing)}`, undefined, { quiet: true });
        this.agent = { ...agent, transfer_number: agent.transfer_number || "" };
        this.speaking = this.speaker();
        this.contextText = JSON.stringify(agent.context, null, 2);
        this.stats = await api("GET", `/v1/agents/${enc(this.existing)}/stats`);
      } catch (error) {
        if (error.status === 404) this.notFound = true;
        else toast(error.message, "error");
      } finally {
        this.loading = false;
      }
    },
    realtime() {
      return this.agent.model_mode === "realtime";
    },
    // The model that speaks in this mode, as "role:vendor": its voice is the agent's voice.
    speaker() {
      return this.realtime() ? `realtime:${this.agent.realtime.provider}` : `tts:${this.agent.tts.provider}`;
    },
    speakerLabel() {
      return speakers[this.speaker()].label;
    },
    suggestedVoices() {
      return speakers[this.speaker()].voices;
    },
    // Another vendor speaks now: its voices are named differently, so start from one of its own.
    speakerChanged() {
      const vendor = (speaker) => speaker.split(":")[1];
      if (vendor(this.speaker()) !== vendor(this.speaking)) this.agent.voice = speakers[this.speaker()].default;
      this.speaking = this.speaker();
    },
    // An emptied number field is "", which the API refuses: unset is null.
    temperature(value) {
      return value === "" || value === null || value === undefined ? null : Number(value);
    },
    parseContext() {
      try {
        const context = JSON.parse(this.contextText || "{}");
        if (context !== null && typeof context === "object" && !Array.isArray(context)) return context;
      } catch {
        // reported below
      }
      toast("Context must be a JSON object, e.g. {\"company\": \"Acme\"}.", "error");
      return null;
    },
    async save() {
      const context = this.parseContext();
      if (context === null) return;
      const { name, enabled_tools: _enabled, ...fields } = this.agent;
      const body = {
        ...fields,
        context,
        transfer_number: fields.transfer_number.trim() || null,
        llm: { ...fields.llm, temperature: this.temperature(fields.llm.temperature) },
        realtime: { ...fields.realtime, temperature: this.temperature(fields.realtime.temperature) },
      };
      this.saving = true;
      try {
        if (this.existing) {
          await api("PUT", `/v1/agents/${enc(this.existing)}`, body);
          toast("Agent saved", "success");
        } else {
          const created = await api("POST", "/v1/agents", { name, ...body });
          toast("Agent created", "success");
          window.location.assign(`/agents/${enc(created.name)}`);
        }
      } finally {
        this.saving = false;
      }
    },
    async remove() {
      if (!window.confirm(`Delete the agent ${this.existing}? Calls already made keep their records.`)) return;
      await api("DELETE", `/v1/agents/${enc(this.existing)}`);
      window.location.assign("/agents");
    },
    async call() {
      const body = { phone: this.testCall.phone, name: this.testCall.name };
      if (this.testCall.context.trim()) {
        try {
          body.context = JSON.parse(this.testCall.context);
        } catch {
          toast("The context override must be JSON.", "error");
          return;
        }
      }
      this.calling = true;
      try {
        const started = await api("POST", `/v1/agents/${enc(this.existing)}/calls`, body);
        toast("Calling…", "success");
        window.location.assign(`/campaigns/${enc(started.campaign.id)}`);
      } finally {
        this.calling = false;
      }
    },
    talkPath(suffix) {
      return `/v1/agents/${enc(this.existing)}/${suffix}`;
    },
    async startWebCall() {
      this.talk.joining = true;
      this.talk.status = "Connecting…";
      try {
        const { Room, RoomEvent, Track } = await loadLivekitClient();
        const call = await api("POST", this.talkPath("web-call"), { phone: this.talk.phone });
        const room = new Room();
        room.on(RoomEvent.TrackSubscribed, (track) => {
          if (track.kind === Track.Kind.Audio) document.body.appendChild(track.attach());
        });
        room.on(RoomEvent.Disconnected, () => this.callEnded());
        webCallRoom = room; // kept out of Alpine's reactive proxies, which the SDK's private fields refuse
        this.talk.inCall = true;
        this.talk.callId = call.call_id;
        this.talk.sid = call.call_id.replace(/^in_/, "");
        await room.connect(call.url, call.token);
        await room.localParticipant.setMicrophoneEnabled(true);
        this.talk.status = "In the call: speak to the agent.";
      } catch (error) {
        this.talk.status = "";
        if (!(error instanceof ApiError)) toast(`The call could not connect: ${error.message}`, "error");
        if (this.talk.inCall) await this.hangUp();
      } finally {
        this.talk.joining = false;
      }
    },
    async hangUp() {
      const room = webCallRoom;
      webCallRoom = null;
      if (room) await room.disconnect();
      await this.callEnded();
    },
    async callEnded() {
      if (!this.talk.sid) return;
      const sid = this.talk.sid;
      this.talk.sid = null;
      this.talk.inCall = false;
      this.talk.status = "Call ended.";
      await api("POST", this.talkPath(`web-call/${enc(sid)}/end`));
    },
    heard(reply) {
      for (const tool of reply.tools) this.talk.lines.push({ speaker: "tool", text: fmt.label(tool) });
      for (const segment of reply.said) this.talk.lines.push({ speaker: "agent", text: segment.text });
      this.$nextTick(() => {
        this.$refs.chatLog.scrollTop = this.$refs.chatLog.scrollHeight;
      });
      if (reply.ended) {
        this.talk.chat = null;
        this.talk.status = "The agent ended the chat.";
      }
    },
    async startChat() {
      this.talk.starting = true;
      this.talk.lines = [];
      try {
        const chat = await api("POST", this.talkPath("chat"), { phone: this.talk.phone });
        this.talk.chat = chat.session_id;
        this.talk.callId = chat.call_id;
        this.talk.status = "Chatting: the agent answers as on a call.";
        this.heard(chat);
      } finally {
        this.talk.starting = false;
      }
    },
    async sendChat() {
      const text = this.talk.message.trim();
      if (!text || !this.talk.chat) return;
      this.talk.sending = true;
      this.talk.lines.push({ speaker: "you", text });
      this.talk.message = "";
      try {
        this.heard(await api("POST", this.talkPath(`chat/${enc(this.talk.chat)}/messages`), { text }));
      } finally {
        this.talk.sending = false;
      }
    },
    async endChat() {
      const chat = this.talk.chat;
      this.talk.chat = null;
      this.talk.status = "Chat ended.";
      if (chat) await api("POST", this.talkPath(`chat/${enc(chat)}/end`));
    },
  }));

  // Phone numbers and the agent that answers each.
  Alpine.data("numbersPage", () => ({
    numbers: [],
    agents: [],
    pools: [],
    capacity: null,
    loading: true,
    async init() {
      try {
        const [numbers, agents, pools, capacity] = await Promise.all([
          api("GET", "/v1/numbers"),
          api("GET", "/v1/agents"),
          api("GET", "/v1/caller-id-pools"),
          api("GET", "/v1/capacity"),
        ]);
        this.numbers = numbers.items;
        this.agents = agents.items.filter((agent) => agent.active);
        this.pools = pools.items;
        this.capacity = capacity;
      } finally {
        this.loading = false;
      }
    },
    async assign(number, agentName) {
      try {
        const updated = await api("PUT", `/v1/numbers/${enc(number.number)}/agent`, { agent_name: agentName || null });
        Object.assign(number, updated);
        toast(agentName ? `${number.number} now rings ${agentName}` : `${number.number} has no agent now`, "success");
      } catch {
        this.numbers = [...this.numbers]; // redraw the select with the number's unchanged agent
      }
    },
  }));

  // Shared information across the organization's calls, by category and caller.
  Alpine.data("informationPage", () => ({
    items: [],
    category: "",
    caller: "",
    loading: true,
    async init() {
      await this.load();
    },
    async load() {
      this.loading = true;
      try {
        const filters = { category: this.category, caller: this.caller.trim(), limit: 200 };
        const page = await api("GET", `/v1/information${query(filters)}`);
        this.items = page.items;
      } finally {
        this.loading = false;
      }
    },
  }));

  // The audit log: who changed what, newest first.
  Alpine.data("auditPage", () => pagedList("/v1/audit", "events", 100));

  // HTTP tools: create one from its JSON definition, test it with sample arguments, delete it (docs/tools.md).
  Alpine.data("toolsPage", () => ({
    tools: [],
    loading: true,
    definition: JSON.stringify(
      {
        name: "find_slots",
        description: "Free appointment slots on a day; use it when the callee wants to book.",
        parameters: { type: "object", properties: { day: { type: "string", description: "YYYY-MM-DD" } }, required: ["day"] },
        method: "GET",
        url: "https://booking.example.com/slots/{day}",
        timeout_seconds: 5,
        auth: { kind: "api_key", header: "X-API-Key", secret: "" },
        response_fields: ["slots"],
        max_response_chars: 2000,
      },
      null,
      2,
    ),
    selected: null,
    argumentsText: "{}",
    testing: false,
    result: null,
    async init() {
      await this.load();
    },
    async load() {
      this.loading = true;
      try {
        this.tools = await api("GET", "/v1/tools");
      } finally {
        this.loading = false;
      }
    },
    parsed(text, what) {
      try {
        const value = JSON.parse(text);
        if (value !== null && typeof value === "object" && !Array.isArray(value)) return value;
      } catch {
        // reported below
      }
      toast(`${what} must be a JSON object.`, "error");
      return null;
    },
    async create() {
      const tool = this.parsed(this.definition, "The tool");
      if (tool === null) return;
      const created = await api("POST", "/v1/tools", tool);
      toast(`Tool ${created.name} created`, "success");
      await this.load();
      this.pick(this.tools.find((t) => t.name === created.name));
    },
    pick(tool) {
      this.selected = tool;
      this.result = null;
      const properties = (tool && tool.parameters.properties) || {};
      this.argumentsText = JSON.stringify(Object.fromEntries(Object.keys(properties).map((name) => [name, ""])), null, 2);
    },
    async test() {
      const args = this.parsed(this.argumentsText, "The arguments");
      if (args === null) return;
      this.testing = true;
      try {
        this.result = await api("POST", `/v1/tools/${enc(this.selected.name)}/test`, { arguments: args });
      } finally {
        this.testing = false;
      }
    },
    async remove(tool) {
      if (!window.confirm(`Delete the tool ${tool.name}?`)) return;
      await api("DELETE", `/v1/tools/${enc(tool.name)}`);
      if (this.selected && this.selected.name === tool.name) this.selected = null;
      await this.load();
    },
  }));

  // Departments: add, edit and delete where inbound agents route callers (docs/api.md#departments).
  Alpine.data("departmentsPage", () => ({
    departments: [],
    loading: true,
    editing: false,
    form: {},
    async init() {
      this.reset();
      await this.load();
    },
    async load() {
      this.loading = true;
      try {
        this.departments = await api("GET", "/v1/departments");
      } finally {
        this.loading = false;
      }
    },
    reset() {
      this.editing = false;
      this.form = {
        name: "",
        description: "",
        timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
        hours: "mon-fri 09:00-17:00",
        transfer_target: "",
        ring_timeout_seconds: 30,
        fallback: "callback",
      };
    },
    hoursText(hours) {
      return hours.map((w) => `${weekdaysText(w.weekdays)} ${w.start.slice(0, 5)}-${w.end.slice(0, 5)}`).join("; ");
    },
    edit(department) {
      this.editing = true;
      this.form = { ...department, hours: this.hoursText(department.hours) };
      document.getElementById("department-form").scrollIntoView();
    },
    async save() {
      let hours;
      try {
        hours = parseHours(this.form.hours);
      } catch (error) {
        toast(error.message, "error");
        return;
      }
      const body = { ...this.form, hours };
      if (this.editing) {
        await api("PUT", `/v1/departments/${enc(this.form.name)}`, body);
        toast(`Department ${this.form.name} saved`, "success");
      } else {
        await api("POST", "/v1/departments", body);
        toast(`Department ${this.form.name} added`, "success");
      }
      this.reset();
      await this.load();
    },
    async remove(department) {
      if (!window.confirm(`Delete the department ${department.name}?`)) return;
      await api("DELETE", `/v1/departments/${enc(department.name)}`);
      if (this.editing && this.form.name === department.name) this.reset();
      await this.load();
    },
  }));

  // An agent's knowledge base: upload, list and delete its documents, and try a search (docs/api.md).
  Alpine.data("agentDocuments", (agentName) => ({
    documents: [],
    loading: true,
    uploading: false,
    query: "",
    searched: false,
    passages: [],
    async init() {
      await this.load();
    },
    async load() {
      this.loading = true;
      try {
        this.documents = (await api("GET", `/v1/agents/${enc(agentName)}/documents`)).items;
      } finally {
        this.loading = false;
      }
    },
    async upload(event) {
      this.uploading = true;
      try {
        const added = await uploadChosenFile(event, `/v1/agents/${enc(agentName)}/documents`);
        if (added) toast(`${added.name} added: ${added.chunks} passages`, "success");
      } finally {
        this.uploading = false;
      }
      await this.load();
    },
    async remove(document) {
      if (!window.confirm(`Delete the document ${document.name}?`)) return;
      await api("DELETE", `/v1/agents/${enc(agentName)}/documents/${document.id}`);
      await this.load();
    },
    async search() {
      if (!this.query.trim()) return;
      const answer = await api("POST", `/v1/agents/${enc(agentName)}/knowledge/search`, { query: this.query });
      this.passages = answer.passages;
      this.searched = true;
    },
  }));

  // The do-not-call list: add, remove, import.
  Alpine.data("webhooksPage", () => ({
    endpoints: [],
    loading: true,
    url: "",
    events: "*",
    secret: "",
    selected: null,
    deliveries: [],
    async init() {
      await this.load();
    },
    async load() {
      this.loading = true;
      try {
        this.endpoints = await api("GET", "/v1/webhooks");
      } finally {
        this.loading = false;
      }
    },
    async create() {
      const named = this.events.split(",").map((e) => e.trim()).filter(Boolean);
      const events = named.length === 0 || named.includes("*") ? "*" : named;
      const created = await api("POST", "/v1/webhooks", { url: this.url, events });
      this.secret = created.secret;
      this.url = "";
      toast(`Events now go to ${created.url}`, "success");
      await this.load();
    },
    async remove(endpoint) {
      if (!window.confirm(`Stop sending events to ${endpoint.url}?`)) return;
      await api("DELETE", `/v1/webhooks/${enc(endpoint.id)}`);
      if (this.selected && this.selected.id === endpoint.id) this.selected = null;
      await this.load();
    },
    async show(endpoint) {
      this.selected = endpoint;
      this.deliveries = await api("GET", `/v1/webhooks/${enc(endpoint.id)}/deliveries`);
    },
    async redeliver(delivery) {
      await api("POST", `/v1/webhooks/deliveries/${enc(delivery.id)}/redeliver`);
      toast(`${delivery.event_type} queued again`, "success");
      await this.show(this.selected);
    },
  }));

  // OAuth connections: connect (off to the provider's authorization URL, back through /oauth/callback), revoke.
  Alpine.data("connectionsPage", () => ({
    connections: [],
    loading: true,
    form: { name: "", provider: "google_calendar", client_id: "", client_secret: "", authorize_url: "", token_url: "", revoke_url: "", scopes: "" },
    async init() {
      await this.load();
    },
    async load() {
      this.loading = true;
      try {
        this.connections = await api("GET", "/v1/connections");
      } finally {
        this.loading = false;
      }
    },
    async connect() {
      const generic = this.form.provider === "generic";
      const scopes = this.form.scopes.split(/[\s,]+/).filter(Boolean);
      const started = await api("POST", "/v1/connections", {
        name: this.form.name,
        provider: this.form.provider,
        client_id: this.form.client_id,
        client_secret: this.form.client_secret,
        authorize_url: generic ? this.form.authorize_url : null,
        token_url: generic ? this.form.token_url : null,
        revoke_url: generic && this.form.revoke_url ? this.form.revoke_url : null,
        scopes: scopes.length ? scopes : null,
      });
      window.location.assign(started.authorization_url);
    },
    async revoke(connection) {
      if (!window.confirm(`Revoke ${connection.name}? Tools using it stop working until it is connected again.`)) return;
      await api("DELETE", `/v1/connections/${enc(connection.name)}`);
      toast(`${connection.name} revoked`, "success");
      await this.load();
    },
  }));

  Alpine.data("dncPage", () => ({
    ...pagedList("/v1/dnc", "entries", 100),
    phone: "",
    reason: "",
    importReport: null,
    importing: false,
    async add() {
      const result = await api("POST", "/v1/dnc", { phone: this.phone, reason: this.reason });
      const phone = result.entry.phone;
      toast(result.added ? `${phone} will never be called` : `${phone} was already listed`, "success");
      this.phone = "";
      this.reason = "";
      await this.load();
    },
    async remove(entry) {
      if (!window.confirm(`Allow calls to ${entry.phone} again?`)) return;
      await api("DELETE", `/v1/dnc/${enc(entry.phone)}`);
      toast(`${entry.phone} removed from the list`, "success");
      await this.load();
    },
    async importFile(event) {
      this.importing = true;
      try {
        const report = await uploadChosenFile(event, "/v1/dnc/import");
        if (!report) return;
        this.importReport = report;
        toast(`${report.added} number(s) added to the list`, "success");
        await this.load();
      } finally {
        this.importing = false;
      }
    },
  }));
});
