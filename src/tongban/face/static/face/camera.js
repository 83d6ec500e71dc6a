// The real-person check: camera → challenge → a burst of frames → the verdict (docs/face.md).
(function () {
  "use strict";
  var root = document.getElementById("face");
  var start = document.getElementById("face-start");
  if (!root || !start) { return; }
  var video = document.getElementById("face-video");
  var canvas = document.getElementById("face-canvas");
  var prompt = document.getElementById("face-prompt");
  var status = document.getElementById("face-status");
  var fallback = document.getElementById("face-fallback");
  var FRAMES = 8, FIRST_DELAY = 400, INTERVAL = 300;

  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) { return decodeURIComponent(m[1]); }
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function say(text) { status.textContent = text; }
  function refused() {
    fallback.hidden = false;
    start.hidden = true;
    say("");
  }
  function grab() {
    return new Promise(function (resolve) {
      // The stream's own shape (a phone gives portrait frames), at most 640 px on the longer side.
      var w = video.videoWidth || 640, h = video.videoHeight || 480, scale = Math.min(1, 640 / Math.max(w, h));
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      var ctx = canvas.getContext("2d");
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(resolve, "image/jpeg", 0.85);
    });
  }
  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  async function burst() {
    var blobs = [];
    await wait(FIRST_DELAY);
    for (var i = 0; i < FRAMES; i++) {
      blobs.push(await grab());
      if (i < FRAMES - 1) { await wait(INTERVAL); }
    }
    return blobs;
  }
  async function post(url, body) {
    var response = await fetch(url, {method: "POST", body: body, credentials: "same-origin",
                                     headers: {"X-CSRFToken": csrf(), "Accept": "application/json"}});
    var data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return {ok: response.ok, data: data};
  }

  start.addEventListener("click", async function () {
    start.disabled = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { refused(); return; }
    var stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "user", width: {ideal: 640}, height: {ideal: 480}}, audio: false});
    } catch (e) { refused(); return; }
    video.srcObject = stream;
    await video.play().catch(function () {});
    if (!video.videoWidth) { await new Promise(function (r) { video.onloadedmetadata = r; }); }
    var issued = await post(root.dataset.challengeUrl, new FormData());
    if (!issued.ok) { say((issued.data.error && issued.data.error.message) || root.dataset.failed); start.disabled = false; return; }
    prompt.textContent = issued.data.prompt;
    var blobs = await burst();
    stream.getTracks().forEach(function (t) { t.stop(); });
    prompt.textContent = "";
    say(root.dataset.checking);
    var form = new FormData();
    form.append("challenge_id", issued.data.challenge_id);
    form.append("next", root.dataset.next || "");
    blobs.forEach(function (b, i) { form.append("frames", b, "frame" + i + ".jpg"); });
    var result = await post(root.dataset.checkUrl, form);
    if (result.ok && result.data.passed) {
      root.dataset.result = "passed";
      say(result.data.message);
      window.location.assign(result.data.next);
      return;
    }
    root.dataset.result = result.ok ? result.data.status : "error";
    say(result.ok ? result.data.message : ((result.data.error && result.data.error.message) || root.dataset.failed));
    start.disabled = false;
  });
})();
