// Projector: keyboard shortcuts; whole answers (and words) that do not fit are hidden; after a redraw,
// a count that moved flashes and a row that changed rank slides from where it was.
(function () {
  "use strict";
  var keys = { ArrowLeft: "previous", ArrowRight: "next", q: "qr", p: "pinned", b: "bridges", w: "words", j: "join" };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "f") {
      if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen();
      return;
    }
    var name = keys[event.key];
    if (!name) return;
    var control = document.querySelector('[data-key="' + name + '"]');
    if (control) { control.click(); event.preventDefault(); }
  });

  // Every item of a [data-fit] list after the first one that sticks out of the list is hidden, whole.
  function fit(root) {
    (root || document).querySelectorAll("[data-fit]").forEach(function (list) {
      var items = Array.prototype.slice.call(list.children);
      items.forEach(function (item) { item.hidden = false; });
      var box = list.getBoundingClientRect();
      var out = false;
      var verdicts = items.map(function (item) {
        var r = item.getBoundingClientRect();
        out = out || r.bottom > box.bottom + 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.left < box.left - 0.5;
        return out;
      });
      items.forEach(function (item, i) { item.hidden = verdicts[i]; });
    });
  }

  function snapshot(board) {
    var rows = {}, numbers = {};
    board.querySelectorAll(".bar-row:not([hidden])").forEach(function (row) {
      rows[row.id] = row.getBoundingClientRect().top;
    });
    board.querySelectorAll(".counters b[id], .bar-row b").forEach(function (b) {
      var row = b.closest(".bar-row");
      numbers[(row ? row.id + "." : "") + (b.id || b.classList[0])] = b.textContent;
    });
    return { rows: rows, numbers: numbers };
  }

  function animate(board, before) {
    board.querySelectorAll(".counters b[id], .bar-row b").forEach(function (b) {
      var row = b.closest(".bar-row");
      var key = (row ? row.id + "." : "") + (b.id || b.classList[0]);
      if (key in before.numbers && before.numbers[key] !== b.textContent) b.classList.add("moved");
    });
    board.querySelectorAll(".bar-row:not([hidden])").forEach(function (row) {
      if (!(row.id in before.rows)) return;
      var dy = before.rows[row.id] - row.getBoundingClientRect().top;
      if (Math.abs(dy) < 1) return;
      row.style.transform = "translateY(" + dy + "px)";
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          row.classList.add("sliding");
          row.style.transform = "";
          row.addEventListener("transitionend", function () { row.classList.remove("sliding"); }, { once: true });
        });
      });
    });
  }

  // The old board's elements lose their ids before the swap, so that htmx does not carry their attributes
  // over to the new ones while it settles (it would undo the flashes and slides); the new board is fitted and animated before it is first painted.
  var before = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "board") return;
    before = snapshot(target);
    target.querySelectorAll("[id]").forEach(function (el) { el.removeAttribute("id"); });
  });
  // htmx queues a trigger that comes while the board is being fetched, then drops it with the old board:
  // it is noted here and fired again on the new board, so no change is missed.
  var fetching = false, missed = false;
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target && event.target.id === "board") fetching = true;
  });
  ["sse:counts", "sse:status", "sse:answer"].forEach(function (name) {
    document.addEventListener(name, function () { if (fetching) missed = true; });
  });
  function settled() {
    fetching = false;
    if (!missed) return;
    missed = false;
    setTimeout(function () {
      var board = document.getElementById("board");
      if (board) htmx.trigger(board, "sse:status");
    }, 60);
  }
  ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach(function (name) {
    document.addEventListener(name, function (event) { if (event.target && event.target.id === "board") settled(); });
  });
  new MutationObserver(function (changes) {
    var added = changes.some(function (change) {
      return Array.prototype.some.call(change.addedNodes, function (node) { return node.id === "board"; });
    });
    var board = added && document.getElementById("board");
    if (!board) return;
    fit(board);
    if (before) animate(board, before);
    before = null;
    settled();
  }).observe(document.body, { childList: true });

  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; fit(document); });
  });
  fit(document);
})();
