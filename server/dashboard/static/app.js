// taskmodel dashboard: live updates over Server-Sent Events. The pages work
// without this script; it only keeps them current without reloading.
(function () {
  'use strict';

  function localTimes(root) {
    root.querySelectorAll('time[datetime]').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d.getTime()) && !t.dataset.local) {
        t.title = t.textContent;
        t.textContent = d.toLocaleString();
        t.dataset.local = '1';
      }
    });
  }

  function setLive(state, text) {
    var el = document.getElementById('live');
    if (!el) return;
    el.dataset.state = state;
    var t = el.querySelector('.txt');
    if (t) t.textContent = text;
  }

  // problemOf is the alert of a failed fetch: the server's (a fragment
  // fails as its page would, with the page's message as an alert,
  // id="problem"), or, when the answer holds none (a proxy's error page),
  // one that gives the status.
  function problemOf(r, html) {
    var tmp = document.createElement('template');
    tmp.innerHTML = html;
    var p = tmp.content.getElementById('problem');
    if (!p) {
      p = document.createElement('p');
      p.className = 'alert';
      p.setAttribute('role', 'alert');
      p.id = 'problem';
      p.textContent = 'The server answered ' + r.status + (r.statusText ? ' ' + r.statusText : '') + '; this part of the page is not current.';
    }
    return p.outerHTML;
  }

  // refresher returns a function that replaces el's content with url's
  // HTML, or with the error's alert when the server refuses; calls
  // coalesce.
  function refresher(url, el, after) {
    var busy = false, again = false;
    function run() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(url(), { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
        .then(function (r) {
          if (r.status === 401) { location.reload(); throw new Error('signed out'); }
          return r.text().then(function (html) { return r.ok ? html : problemOf(r, html); });
        })
        .then(function (html) { el.innerHTML = html; localTimes(el); if (after) after(); })
        .catch(function () {})
        .then(function () { busy = false; if (again) { again = false; run(); } });
    }
    return run;
  }

  localTimes(document);
  // A stream ended for a revoked session: reloading leads to the sign-in
  // page, which says the session ended.
  function signedOut(source) {
    return function () { source.close(); location.reload(); };
  }
  if (!window.EventSource) return;

  // The tasks page: rows change in place; a task that may enter the
  // current page (first page, matching filters) reloads the list.
  var list = document.getElementById('task-list');
  if (list && !document.getElementById('problem')) {
    var types = list.dataset.types ? list.dataset.types.split(',') : [];
    var codes = list.dataset.codes ? list.dataset.codes.split(',') : [];
    var hasTag = list.dataset.hasTag === 'true', tag = list.dataset.tag;
    var first = list.dataset.offset === '0';
    var state = ['connecting', 'Connecting to live updates…'];
    var reload = refresher(function () { return '/ui/list' + location.search; }, list, function () { setLive(state[0], state[1]); });
    var timer = null;
    function later() { clearTimeout(timer); timer = setTimeout(reload, 250); }
    function matches(t) {
      return (types.length === 0 || types.indexOf(t.task_type) >= 0) &&
        (codes.length === 0 || codes.indexOf(t.code) >= 0) &&
        (!hasTag || t.tag === tag);
    }
    var es = new EventSource('/ui/events');
    es.onopen = function () { state = ['open', 'Live: changes appear as they happen']; setLive(state[0], state[1]); };
    es.onerror = function () { state = ['error', 'Live updates interrupted; reconnecting…']; setLive(state[0], state[1]); };
    es.addEventListener('unauthorized', signedOut(es));
    es.addEventListener('task', function (e) {
      var t;
      try { t = JSON.parse(e.data); } catch (err) { return; }
      var row = list.querySelector('tr[data-id="' + t.id + '"]');
      if (row) {
        if (!matches(t)) { later(); return; }
        var tmp = document.createElement('tbody');
        tmp.innerHTML = t.row;
        var fresh = tmp.firstElementChild;
        if (!fresh) return;
        fresh.classList.add('changed');
        row.replaceWith(fresh);
        localTimes(fresh);
      } else if (first && matches(t)) {
        later();
      }
    });
  }

  // One task's page: the API's event stream of the task; each change
  // re-renders the page's content, until the task finishes.
  var view = document.getElementById('task-view');
  if (view && view.dataset.finished !== 'true') {
    var id = view.dataset.id;
    var src = new EventSource('/tasks/' + encodeURIComponent(id) + '/events');
    var open = false;
    function mark() {
      if (open) setLive('open', 'Live');
      var head = view.querySelector('.task-head');
      if (head && head.dataset.finished === 'true') { src.close(); }
    }
    var refresh = refresher(function () { return '/ui/tasks/' + encodeURIComponent(id) + '/view'; }, view, mark);
    var seen = null;
    src.addEventListener('unauthorized', signedOut(src));
    // The task can no longer be followed (deleted, or moved by a newer
    // server to a status this one does not know): the page's fetch shows
    // the server's problem.
    src.addEventListener('problem', function () { src.close(); setLive('error', 'Live updates stopped'); refresh(); });
    src.onopen = function () { open = true; setLive('open', 'Live'); };
    src.onerror = function () { if (src.readyState !== EventSource.CLOSED) setLive('error', 'Reconnecting…'); };
    src.addEventListener('task', function (e) {
      var v = e.lastEventId;
      var head = view.querySelector('.task-head');
      if (v && head && head.dataset.version === v && seen === null) { seen = v; return; }
      seen = v;
      refresh();
    });
  }
  // A model's page: a change to one of its tasks (any the user may see)
  // redraws the diagram's counts and the queue.
  var model = document.getElementById('model-view');
  if (model) {
    var name = model.dataset.model;
    var mstate = ['connecting', 'Connecting to live updates…'];
    var redraw = refresher(function () { return '/ui/models/' + encodeURIComponent(name) + '/view?window=' + encodeURIComponent(model.dataset.window || '24h'); }, model, function () { setLive(mstate[0], mstate[1]); });
    var mtimer = null;
    var mes = new EventSource('/ui/events');
    mes.onopen = function () { mstate = ['open', 'Live: counts change as tasks move']; setLive(mstate[0], mstate[1]); };
    mes.onerror = function () { mstate = ['error', 'Live updates interrupted; reconnecting…']; setLive(mstate[0], mstate[1]); };
    mes.addEventListener('unauthorized', signedOut(mes));
    mes.addEventListener('task', function (e) {
      var t;
      try { t = JSON.parse(e.data); } catch (err) { return; }
      if (t.task_type !== name) return;
      clearTimeout(mtimer);
      mtimer = setTimeout(redraw, 250);
    });
  }
  // The Pipelines page: a change to any pipeline run or subtask fetches the
  // tree again. What the user opened or closed stays so, and the keyboard
  // focus stays on its summary.
  var tree = document.getElementById('pipeline-tree');
  if (tree && !document.getElementById('problem')) {
    var toggled = {}, focusKey = null;
    var pstate = ['connecting', 'Connecting to live updates…'];
    // Only the user's own toggles are remembered: a click on a summary (the
    // keyboard's Enter and Space click it too). The toggle events that the
    // server's markup fires (a redrawn run that is open while it runs) and
    // that restoring fires are not the user's, and a run that finishes
    // closes unless the user opened it.
    tree.addEventListener('click', function (e) {
      if (e.defaultPrevented) return;
      var s = e.target.closest ? e.target.closest('summary') : null;
      var d = s && s.parentElement;
      if (!d || d.tagName !== 'DETAILS' || !d.dataset.key || !tree.contains(d)) return;
      toggled[d.dataset.key] = !d.open;
    });
    function byKey(k) {
      var all = tree.querySelectorAll('details[data-key]');
      for (var i = 0; i < all.length; i++) { if (all[i].dataset.key === k) return all[i]; }
      return null;
    }
    var fetchTree = refresher(function () { return '/ui/pipelines/view' + (tree.dataset.query || ''); }, tree, function () {
      Object.keys(toggled).forEach(function (k) { var el = byKey(k); if (el) el.open = toggled[k]; });
      if (focusKey) { var el = byKey(focusKey); if (el) el.querySelector('summary').focus(); }
      setLive(pstate[0], pstate[1]);
    });
    function redrawTree() {
      var a = document.activeElement;
      focusKey = (a && a.tagName === 'SUMMARY' && tree.contains(a)) ? a.parentElement.dataset.key : null;
      fetchTree();
    }
    var ptimer = null;
    var pes = new EventSource('/ui/pipelines/events');
    pes.onopen = function () { pstate = ['open', 'Live: runs and subtasks change as scripts report']; setLive(pstate[0], pstate[1]); };
    pes.onerror = function () { pstate = ['error', 'Live updates interrupted; reconnecting…']; setLive(pstate[0], pstate[1]); };
    pes.addEventListener('unauthorized', signedOut(pes));
    pes.addEventListener('pipelines', function () { clearTimeout(ptimer); ptimer = setTimeout(redrawTree, 200); });
  }
})();
