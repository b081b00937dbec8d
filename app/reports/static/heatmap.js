/* MotCua heat map: the procedure's BPMN diagram in the bpmn-js NavigatedViewer (the bundle the designer's
 * viewer uses, served by the app), each task coloured by the time dossiers spend in it (5 levels, marker
 * classes mc-heat-0…4) with a badge giving the average in working days. The table on the page holds the same
 * numbers (the diagram is an extra). */
(function () {
  'use strict';

  function showError(canvasEl, message) {
    var box = canvasEl.parentNode.querySelector('.mc-error');
    canvasEl.setAttribute('hidden', '');
    if (box) { box.textContent = message; box.removeAttribute('hidden'); }
  }

  function badge(text) {
    var el = document.createElement('span');
    el.className = 'mc-badge mc-badge--heat';
    el.textContent = text;
    el.setAttribute('aria-hidden', 'true');
    return el;
  }

  function days(value) {
    return value === null || value === undefined ? '—' : value.toFixed(2).replace('.', ',');
  }

  function paint(viewer, tasks) {
    var registry = viewer.get('elementRegistry');
    var canvas = viewer.get('canvas');
    var overlays = viewer.get('overlays');
    tasks.forEach(function (t) {
      var el = registry.get(t.id);
      if (!el) return;
      canvas.addMarker(el, 'mc-heat-' + t.level);
      var text = t.avg_days !== null ? 'TB ' + days(t.avg_days) + ' ngày' : t.open + ' đang chờ';
      overlays.add(el, 'mc-heat', { position: { bottom: -12, left: -4 }, html: badge(text) });
    });
  }

  function wireZoom(viewer, canvasEl) {
    var canvas = viewer.get('canvas');
    var buttons = document.querySelectorAll('[data-zoom][aria-controls="' + canvasEl.id + '"]');
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener('click', function () {
        var kind = button.getAttribute('data-zoom');
        if (kind === 'fit') canvas.zoom('fit-viewport', 'auto');
        else canvas.zoom(canvas.zoom() * (kind === 'in' ? 1.25 : 0.8));
      });
    });
  }

  async function mount(canvasEl) {
    var data;
    try {
      var response = await fetch(canvasEl.getAttribute('data-heat-url'), { credentials: 'same-origin',
        headers: { Accept: 'application/json' } });
      if (!response.ok || response.redirected) throw new Error('HTTP ' + response.status);
      data = await response.json();
    } catch (err) {
      showError(canvasEl, 'Không tải được sơ đồ (' + err.message + '). Bảng số liệu vẫn ở bên dưới.');
      return;
    }
    canvasEl.textContent = '';
    var viewer = new window.BpmnJS({ container: canvasEl });
    try {
      await viewer.importXML(data.xml);
    } catch (err) {
      showError(canvasEl, 'Không vẽ được sơ đồ (' + (err && err.message ? err.message : err) + ').');
      return;
    }
    viewer.get('canvas').zoom('fit-viewport', 'auto');
    paint(viewer, data.tasks || []);
    wireZoom(viewer, canvasEl);
    canvasEl.setAttribute('data-ready', 'true');
  }

  function start() {
    var canvases = document.querySelectorAll('[data-heat-url]');
    if (!canvases.length) return;
    if (typeof window.BpmnJS !== 'function') {
      Array.prototype.forEach.call(canvases, function (el) {
        showError(el, 'Không tải được thư viện vẽ sơ đồ (bpmn-js). Bảng số liệu vẫn ở bên dưới.');
      });
      return;
    }
    Array.prototype.forEach.call(canvases, function (el) { mount(el); });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}());
