// 一键挪车: fill the place from the phone's position when the citizen asks (a button, never on load).
(function () {
  var button = document.getElementById("use-location");
  var field = document.getElementById("id_location");
  if (!button || !field || !navigator.geolocation) { if (button) { button.hidden = true; } return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    var status = document.getElementById("location-status");
    status.textContent = button.dataset.waiting;
    navigator.geolocation.getCurrentPosition(function (pos) {
      field.value = button.dataset.prefix + pos.coords.latitude.toFixed(5) + ", " + pos.coords.longitude.toFixed(5);
      status.textContent = button.dataset.done;
    }, function () { status.textContent = button.dataset.failed; }, {timeout: 10000, maximumAge: 60000});
  });
})();
