// The editor's live preview: reload the page when a saved file changes the leaflet; show a problem in place,
// keeping the last good preview, when an edit is invalid. Without this script, the Reload link does the same.
(function () {
  if (!window.EventSource) return;
  var events = new EventSource("/editor/events");
  var box = document.getElementById("live-problem");
  var text = document.getElementById("live-problem-text");
  events.addEventListener("changed", function () { window.location.reload(); });
  events.addEventListener("problem", function (event) {
    text.textContent = JSON.parse(event.data);
    box.hidden = false;
  });
})();
