// Small behaviours that htmx attributes cannot express; the pages work without them.
(function () {
  "use strict";
  // A streamed answer that is already on the page (our own, or a replay after reconnecting) is not added twice.
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (event.detail.type !== "answer") return;
    var match = /id="(a\d+)"/.exec(event.detail.data || "");
    if (match && document.getElementById(match[1])) event.preventDefault();
  });
  // While the live stream is down, refresh the live parts every few seconds instead.
  var polling = null;
  function refreshLiveParts() {
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
})();
