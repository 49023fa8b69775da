// Herald dashboard: times in the viewer's zone, live updates over
// Server-Sent Events (a periodic refresh when they fail), the schedule
// form's live preview, and confirmations. Every page works without it.
(function () {
  'use strict';
  var doc = document, body = doc.body, base = body.dataset.base || '/';
  var zone = '';
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { zone = ''; }
  var zoneSet = body.dataset.zoneSet === '1';
  if (zone && !zoneSet) {
    doc.cookie = 'herald_tz=' + encodeURIComponent(zone) + '; path=' + base + '; max-age=31536000; samesite=strict' +
      (location.protocol === 'https:' ? '; secure' : '');
  }
  var pad = function (n) { return (n < 10 ? '0' : '') + n; };
  function localize(root) {
    if (zoneSet || !zone) { return; }
    root.querySelectorAll('time.l').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (isNaN(d)) { return; }
      var name = '';
      try {
        name = new Intl.DateTimeFormat('en', { timeZoneName: 'short' }).formatToParts(d)
          .filter(function (p) { return p.type === 'timeZoneName'; }).map(function (p) { return p.value; }).join('');
      } catch (e) { name = ''; }
      t.textContent = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
        pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + (name ? ' ' + name : '');
    });
  }
  localize(doc);

  // Live updates.
  var live = doc.getElementById('live');
  var src = body.dataset.live;
  if (live && src) {
    var timer = null;
    var swap = function (html) {
      if (live.innerHTML !== html) { live.innerHTML = html; localize(live); }
      body.dataset.updated = String(Date.now());
    };
    var refresh = function () {
      fetch(location.href, { headers: { 'X-Herald-Live': '1' }, credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) {
          if (r.status === 401 || r.status === 404) { location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (t) { if (t !== null) { swap(t); } })
        .catch(function () {});
    };
    var fallback = function () {
      if (!timer) { timer = setInterval(refresh, Number(body.dataset.refresh) || 15000); }
    };
    if (window.EventSource) {
      var es = new EventSource(src);
      var fails = 0;
      es.addEventListener('open', function () { body.dataset.live_state = 'open'; });
      es.addEventListener('update', function (e) { fails = 0; swap(e.data); });
      es.addEventListener('gone', function () { es.close(); location.reload(); });
      es.addEventListener('error', function () {
        fails++;
        if (fails >= 3 || es.readyState === EventSource.CLOSED) { es.close(); fallback(); }
      });
      window.addEventListener('pagehide', function () { es.close(); });
    } else {
      fallback();
    }
  }

  // The schedule form's live preview of the next fire times.
  var form = doc.getElementById('schedule-form');
  var out = doc.getElementById('preview');
  if (form && out) {
    var names = ['kind', 'when', 'timezone', 'start', 'end'];
    var wait = null, seq = 0;
    var preview = function () {
      var data = new URLSearchParams();
      names.forEach(function (n) { if (form.elements[n]) { data.append(n, form.elements[n].value); } });
      var mine = ++seq;
      fetch(base + 'schedules/preview', {
        method: 'POST', body: data, credentials: 'same-origin',
        headers: { 'X-CSRF-Token': body.dataset.csrf }
      }).then(function (r) { return r.ok ? r.text() : null; })
        .then(function (t) { if (t !== null && mine === seq) { out.innerHTML = t; localize(out); out.dataset.ready = String(mine); } })
        .catch(function () {});
    };
    var later = function (e) {
      if (names.indexOf(e.target.name) < 0) { return; }
      clearTimeout(wait);
      wait = setTimeout(preview, 250);
    };
    form.addEventListener('input', later);
    form.addEventListener('change', later);
  }

  // Confirmations of destructive buttons.
  doc.addEventListener('submit', function (e) {
    var msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });
}());
