// Tells the server the browser's time zone (cookie `tz`), so times show in the patient's zone.
// The server checks the name against its zone database and falls back to the clinic's zone.
(function () {
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || zone.length > 64 || !/^[A-Za-z0-9_+\-\/]+$/.test(zone)) {
    return;
  }
  var secure = window.location.protocol === "https:";
  var attributes = "; path=/; max-age=31536000; " + (secure ? "SameSite=None; Secure" : "SameSite=Lax");
  var current = document.cookie.match(/(?:^|; )tz=([^;]*)/);
  if (!current || current[1] !== zone) {
    document.cookie = "tz=" + zone + attributes;
  }
})();
