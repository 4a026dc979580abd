// Keyboard shortcuts for the moderation queue: j/k or n to move, a to publish, r to pick a refusal reason.
(function () {
  "use strict";
  function cards() { return Array.prototype.slice.call(document.querySelectorAll(".queue .mod-card")); }
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
      var reason = at.list[at.index].querySelector('form.with-reason select');
      if (reason) { reason.focus(); event.preventDefault(); }
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "mod-board" && !document.activeElement.closest(".mod-card")) {
      focusAt(0);
    }
  });
})();
