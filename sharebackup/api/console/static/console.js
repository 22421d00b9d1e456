// Live progress on the backups page: every row whose backup is moving polls its status until
// it settles, then the page reloads once so its actions match the new state. No framework.
(function () {
  var moving = ["creating", "restoring", "deleting"];
  function poll(row) {
    var id = row.getAttribute("data-backup-id");
    fetch("/console/backups/" + encodeURIComponent(id) + "/status", {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (b) {
        if (!b) { return; }
        var pct = (b.status === "restoring" ? b.restore_progress : b.progress) || "0";
        row.querySelector("[data-field=status]").textContent = b.status;
        row.querySelector("[data-field=progress]").textContent = pct + "%";
        row.querySelector("[data-field=bar]").value = parseFloat(pct) || 0;
        if (moving.indexOf(b.status) >= 0) { setTimeout(function () { poll(row); }, 700); }
        else { row.setAttribute("data-status", b.status); setTimeout(function () { location.reload(); }, 400); }
      })
      .catch(function () { setTimeout(function () { poll(row); }, 2000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("tr[data-backup-id]").forEach(function (row) {
      if (moving.indexOf(row.getAttribute("data-status")) >= 0) { poll(row); }
    });
  });
})();
