// Small behaviours that htmx attributes cannot express; the pages work without them.
(function () {
  "use strict";
  // A streamed answer that is already on the page (our own, or a replay after reconnecting) is not added twice.
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (event.detail.type !== "answer") return;
    var match = /id="(a\d+)"/.exec(event.detail.data || "");
    if (match && document.getElementById(match[1])) event.preventDefault();
  });

  // Refreshes triggered by a status are spread over a few seconds, so that a hall of phones does not
  // ask the server all at once; a page asks again at most once per spread.
  var SPREAD_MS = 3000;
  var waiting = new WeakSet();
  function refreshLater(el, spread) {
    if (waiting.has(el)) return;
    waiting.add(el);
    setTimeout(function () {
      waiting.delete(el);
      if (document.body.contains(el)) htmx.trigger(el, "board:refresh");
    }, Math.random() * spread);
  }
  function refresh(kind, spread) {
    document.querySelectorAll("[data-refresh-on]").forEach(function (el) {
      if (!kind || el.getAttribute("data-refresh-on").split(" ").indexOf(kind) >= 0) refreshLater(el, spread);
    });
  }

  // While the live stream is down, refresh the live parts every few seconds instead.
  var polling = null;
  function refreshLiveParts() {
    refresh(null, 0);
    document.querySelectorAll("[hx-trigger*='sse:status']").forEach(function (el) {
      htmx.trigger(el, "sse:status");
    });
  }
  document.addEventListener("htmx:sseError", function () {
    if (!polling) polling = setInterval(refreshLiveParts, 5000);
  });
  document.addEventListener("htmx:sseOpen", function () {
    if (polling) { clearInterval(polling); polling = null; refreshLiveParts(); }
  });

  // Thread and event state told by the stream (status, timer, the thread on the projector) applies at once.
  function setHidden(selector, hidden) {
    document.querySelectorAll(selector).forEach(function (el) { el.hidden = hidden; });
  }
  var eventOver = null;
  function isEventOver() {
    if (eventOver === null) eventOver = !!document.querySelector(".event-over");
    return eventOver;
  }
  function setThreadOpen(open) {
    var usable = open && !isEventOver();
    document.querySelectorAll("#answer-form textarea, #answer-form button, .vote button").forEach(function (el) {
      el.disabled = !usable;
    });
    setHidden("[data-closed-notice]", open);
  }
  function applyThread(state) {
    var page = document.querySelector("[data-thread-page]");
    var here = page && Number(page.getAttribute("data-thread-page")) === state.thread;
    if (state.status === "present" || state.on_screen !== undefined) {
      document.querySelectorAll("[data-on-screen]").forEach(function (el) {
        var shown = Number(el.getAttribute("data-on-screen")) === state.on_screen;
        el.hidden = !shown;
        var item = el.closest("li");
        if (item) item.classList.toggle("presented", shown);
      });
    }
    if (here) setThreadOpen(state.thread_status === "open");
    document.querySelectorAll('li[data-thread="' + state.thread + '"] [data-closed-mark]').forEach(function (el) {
      el.hidden = state.thread_status !== "closed";
    });
    document.querySelectorAll('[data-countdown="' + state.thread + '"]').forEach(function (el) {
      el.setAttribute("data-ends", state.timer_ends_at || "");
      el.hidden = !state.timer_ends_at;
      tick();
    });
    var listed = document.querySelector('li[data-thread="' + state.thread + '"]');
    if (!here && !listed && state.thread_status === "open") refresh("threads", SPREAD_MS);
  }
  function applyEvent(state) {
    eventOver = state.event_status === "closed" || state.event_status === "archived";
    if (eventOver) {
      document.querySelectorAll("#answer-form textarea, #answer-form button, .vote button").forEach(function (el) {
        el.disabled = true;
      });
    }
  }
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (event.detail.type !== "status" || !event.target.hasAttribute("data-status-sink")) return;
    event.preventDefault();
    var state;
    try { state = JSON.parse(event.detail.data); } catch (e) { return; }
    if (state.event_status) applyEvent(state);
    if (state.thread_status) applyThread(state);
    if (state.status === "answers" || state.status === "threads" || state.status === "event") {
      refresh(state.status, SPREAD_MS);
    }
  });

  // Countdowns: the server's deadline, against the server's clock as the page was drawn.
  var offset = null;
  function format(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var ends = Date.parse(el.getAttribute("data-ends") || "");
      if (offset === null && el.getAttribute("data-now")) offset = Date.parse(el.getAttribute("data-now")) - Date.now();
      var time = el.querySelector(".time");
      if (isNaN(ends) || !time) { el.hidden = true; return; }
      el.hidden = false;
      var left = (ends - (Date.now() + (offset || 0))) / 1000;
      time.textContent = left > 0 ? format(left) : el.getAttribute("data-done");
      el.classList.toggle("ending", left > 0 && left <= 10);
      el.classList.toggle("done", left <= 0);
    });
  }
  setInterval(tick, 250);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);

  // The answer box counts characters; more than the limit is said, never cut.
  function count(area) {
    var counter = document.getElementById("body-count");
    if (!counter) return;
    var most = Number(area.getAttribute("data-max")) || 500;
    var n = area.value.trim().length;
    var over = n - most;
    counter.textContent = over > 0
      ? counter.getAttribute("data-over").replace("{n}", over)
      : counter.getAttribute("data-template").replace("{n}", n);
    counter.classList.toggle("over", over > 0);
    area.setAttribute("aria-invalid", over > 0 ? "true" : "false");
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-max]")) count(event.target);
  });

  // A vote shows its new state at once; the server's widget (with everyone's counts) then replaces it,
  // and a vote that could not be sent is undone.
  var before = new WeakMap();
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches("form.vote")) return;
    var trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    var button = trigger && trigger.submitter;
    if (!button) return;
    before.set(form, form.innerHTML);
    var value = Number(button.value);
    form.querySelectorAll("button[value]").forEach(function (b) {
      var pressed = b.getAttribute("aria-pressed") === "true";
      var n = b.querySelector(".n");
      var mine = b === button ? value !== 0 : false;
      if (n) n.textContent = Math.max(0, Number(n.textContent) + (mine ? 1 : 0) - (pressed ? 1 : 0));
      b.setAttribute("aria-pressed", mine ? "true" : "false");
    });
    form.classList.add("sending");
  });
  function undo(event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches("form.vote") || !before.has(form)) return;
    form.innerHTML = before.get(form);
    form.classList.remove("sending");
    before.delete(form);
  }
  document.addEventListener("htmx:sendError", undo);
  document.addEventListener("htmx:timeout", undo);

  // Our own answer may arrive by the stream before the post's response: the response's card wins.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "answers" || !event.detail.xhr) return;
    var match = /id="(a\d+)"/.exec(event.detail.serverResponse || "");
    var earlier = match && document.getElementById(match[1]);
    if (earlier) earlier.remove();
  });
  // Flash messages fade out on their own.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "flash") {
      var area = event.detail.target;
      setTimeout(function () { area.textContent = ""; }, 6000);
    }
  });

  // Picking a colour means leaving the board's blue: the box that keeps it is unticked.
  document.addEventListener("input", function (event) {
    var picker = event.target;
    if (!(picker instanceof HTMLInputElement) || picker.type !== "color") return;
    var keep = picker.form && picker.form.querySelector("[data-accent-default]");
    if (keep) keep.checked = false;
  });
})();
