// Projector keyboard shortcuts: arrows change thread, q/p/b toggle QR, pinned-only, bridges-only; f fullscreen.
(function () {
  "use strict";
  var keys = { ArrowLeft: "previous", ArrowRight: "next", q: "qr", p: "pinned", b: "bridges" };
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
})();
