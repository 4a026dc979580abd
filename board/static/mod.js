// The moderation console: keyboard shortcuts (j/k or n to move, a to publish, r to pick a reason), new answers
// placed as one card where they belong, merge targets picked from the search, and live refreshes that wait
// while the moderator is typing and keep what they typed.
(function () {
  "use strict";
  function board() { return document.getElementById("mod-board"); }
  function cards() {
    var root = board();
    return root ? Array.prototype.slice.call(root.querySelectorAll(".mod-card")) : [];
  }
  function current() {
    var list = cards();
    var index = list.indexOf(document.activeElement && document.activeElement.closest(".mod-card"));
    return { list: list, index: index };
  }
  function focusAt(i) {
    var list = cards();
    if (!list.length) return;
    list[Math.max(0, Math.min(i, list.length - 1))].focus();
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) return;
    var at = current();
    if (event.key === "j" || event.key === "n") { focusAt(at.index + 1); event.preventDefault(); }
    else if (event.key === "k") { focusAt(at.index - 1); event.preventDefault(); }
    else if (at.index >= 0 && event.key === "a") {
      var approve = at.list[at.index].querySelector('button[data-key="approve"]');
      if (approve) { approve.click(); event.preventDefault(); }
    } else if (at.index >= 0 && event.key === "r") {
      var reason = at.list[at.index].querySelector("form.with-reason select");
      if (reason) { reason.focus(); event.preventDefault(); }
    }
  });

  // A search result fills the merge form's number and sends it.
  document.addEventListener("click", function (event) {
    var pick = event.target.closest && event.target.closest("button.pick[data-into]");
    if (!pick) return;
    var form = pick.closest("form");
    var into = form && form.querySelector("input[name=into]");
    if (!into) return;
    into.value = pick.getAttribute("data-into");
    form.requestSubmit();
  });

  // A new answer arrives as one card in #mod-incoming (its counters are swapped out of band): it joins the
  // list that shows its thread and state on this page, if any, and only where it would be listed.
  function place(card) {
    var root = board();
    if (!root || root.querySelector("#" + card.id)) return;
    var thread = card.getAttribute("data-thread"), status = card.getAttribute("data-status");
    var lists = root.querySelectorAll('[data-live="' + thread + ":" + status + '"]' + (status === "pending" ? ', [data-live="queue"]' : ""));
    if (!lists.length) return;
    var list = lists[0];
    if (list.getAttribute("data-live") !== "queue") {
      var label = card.querySelector(".in-thread");
      if (label) label.remove();
    }
    var max = Number(list.getAttribute("data-max") || 50);
    var shown = list.querySelectorAll(":scope > .mod-card");
    if (list.getAttribute("data-at") === "end") {
      if (shown.length >= max) return;
      var empty = list.querySelector(":scope > .empty");
      list.insertBefore(card, empty);
    } else {
      var pinned = list.querySelectorAll(":scope > .mod-card.pinned");
      var after = pinned.length ? pinned[pinned.length - 1].nextSibling : list.firstChild;
      list.insertBefore(card, after);
      if (shown.length + 1 > max) shown[shown.length - 1].remove();
    }
  }
  document.addEventListener("htmx:sseMessage", function (event) {
    var target = event.target;
    if (!target || target.id !== "mod-incoming") return;
    var card = target.querySelector(".mod-card");
    if (card) place(card);
    target.innerHTML = "";
  });

  // Live refreshes of the board wait while the moderator is in one of its fields, and keep what they
  // typed, the sections they opened and the card they were on.
  function editing() {
    var el = document.activeElement, root = board();
    return !!(root && el && root.contains(el) && el.matches("input:not([type=hidden]), textarea, select"));
  }
  var deferred = null;
  var kept = null;
  document.addEventListener("htmx:confirm", function (event) {
    if (event.target !== board() || event.detail.verb !== "get" || !editing()) return;
    event.preventDefault();
    deferred = event.detail.issueRequest;
    var news = document.getElementById("mod-news");
    if (news) news.hidden = false;
  });
  document.addEventListener("focusout", function () {
    setTimeout(function () {
      if (deferred && !editing()) {
        var issue = deferred;
        deferred = null;
        issue(true);
      }
    }, 0);
  });
  function snapshot(root) {
    var card = document.activeElement && document.activeElement.closest(".mod-card");
    var fields = [];
    root.querySelectorAll("textarea[id], input[id]:not([type=hidden])").forEach(function (field) {
      if (field.value !== field.defaultValue) fields.push([field.id, field.value]);
    });
    var open = [];
    root.querySelectorAll("details[open] [id]").forEach(function (inside) { open.push(inside.id); });
    return { card: card && root.contains(card) ? card.id : null, fields: fields, open: open, y: window.scrollY };
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var root = board();
    kept = root && event.detail.target === root && event.detail.requestConfig.verb === "get" ? snapshot(root) : null;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var root = board();
    if (!root || !event.detail.target || event.detail.target.id !== "mod-board") return;
    if (kept) {
      kept.fields.forEach(function (pair) {
        var field = document.getElementById(pair[0]);
        if (field) field.value = pair[1];
      });
      kept.open.forEach(function (id) {
        var inside = document.getElementById(id);
        var details = inside && inside.closest("details");
        if (details) details.open = true;
      });
      if (kept.card) {
        var again = document.getElementById(kept.card);
        if (again) again.focus({ preventScroll: true });
      }
      window.scrollTo(0, kept.y);
      kept = null;
    } else if (!document.activeElement || !document.activeElement.closest(".mod-card")) {
      var first = cards()[0];
      if (first) first.focus({ preventScroll: true });
    }
  });
})();
