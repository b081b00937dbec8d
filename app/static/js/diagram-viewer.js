/* MotCua: read-only BPMN diagrams (bpmn-js NavigatedViewer, served by the app).
 *
 * Every element with `data-diagram-viewer` becomes a diagram:
 *   data-source-url="…"    the BPMN XML at that address (designer's viewer), or
 *   data-progress-url="…"  JSON {xml, completed: [ids], current: [ids]} of a dossier: completed steps,
 *                          the current step and the path taken are marked (colour, line style and a badge).
 * Zoom buttons `[data-zoom=in|out|fit]` with aria-controls=<canvas id> drive the diagram.
 * Plain ES2017, no bundler; the page stays usable without it (text lists are rendered by the server).
 */
(function () {
  'use strict';

  var ZOOM_STEP = 1.25;

  function showError(canvasEl, message) {
    var box = canvasEl.parentNode.querySelector('.mc-error');
    canvasEl.setAttribute('hidden', '');
    if (box) {
      box.textContent = message;
      box.removeAttribute('hidden');
    }
  }

  function badge(text, modifier) {
    var el = document.createElement('span');
    el.className = 'mc-badge mc-badge--' + modifier;
    el.textContent = text;
    el.setAttribute('aria-hidden', 'true');
    return el;
  }

  function markProgress(viewer, data) {
    var registry = viewer.get('elementRegistry');
    var canvas = viewer.get('canvas');
    var overlays = viewer.get('overlays');
    var done = new Set(data.completed || []);
    var current = new Set(data.current || []);

    done.forEach(function (id) {
      var el = registry.get(id);
      if (!el || current.has(id) || el.type === 'bpmn:SequenceFlow') return;
      canvas.addMarker(el, 'mc-done');
      overlays.add(el, 'mc-progress', { position: { top: -10, right: 8 }, html: badge('✓', 'done') });
    });
    current.forEach(function (id) {
      var el = registry.get(id);
      if (!el) return;
      canvas.addMarker(el, 'mc-current');
      overlays.add(el, 'mc-progress', { position: { bottom: -12, left: -4 }, html: badge('Đang xử lý', 'current') });
    });
    // the path taken: flows whose source was completed and whose target was reached
    registry.filter(function (el) { return el.type === 'bpmn:SequenceFlow'; }).forEach(function (flow) {
      var bo = flow.businessObject;
      var source = bo.sourceRef && bo.sourceRef.id;
      var target = bo.targetRef && bo.targetRef.id;
      if (done.has(source) && (done.has(target) || current.has(target))) {
        canvas.addMarker(flow, 'mc-taken');
      }
    });
  }

  /* Give the canvas the diagram's proportions (no tall empty box on a phone), then fit it. */
  function fit(viewer, canvasEl) {
    var canvas = viewer.get('canvas');
    var inner = canvas.viewbox().inner;
    if (inner && inner.width > 0) {
      var wanted = canvasEl.clientWidth * inner.height / inner.width + 48;
      var height = Math.max(224, Math.min(wanted, window.innerHeight * 0.7, 640));
      canvasEl.style.height = Math.round(height) + 'px';
      canvas.resized();
    }
    canvas.zoom('fit-viewport', 'auto');
    return canvas.zoom();
  }

  function wireZoom(viewer, canvasEl, fitScale) {
    var canvas = viewer.get('canvas');
    function update() {
      // zoomed in: dragging with a finger pans the diagram; at fit scale the page scrolls as usual
      canvasEl.classList.toggle('mc-zoomed', canvas.zoom() > fitScale * 1.05);
    }
    var buttons = document.querySelectorAll('[data-zoom][aria-controls="' + canvasEl.id + '"]');
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener('click', function () {
        var kind = button.getAttribute('data-zoom');
        if (kind === 'fit') {
          canvas.zoom('fit-viewport', 'auto');
        } else {
          canvas.zoom(canvas.zoom() * (kind === 'in' ? ZOOM_STEP : 1 / ZOOM_STEP));
        }
        update();
      });
    });
    var last = null;
    canvasEl.addEventListener('pointerdown', function (e) {
      if (e.pointerType === 'touch' && canvasEl.classList.contains('mc-zoomed')) last = { x: e.clientX, y: e.clientY };
    });
    canvasEl.addEventListener('pointermove', function (e) {
      if (!last || e.pointerType !== 'touch') return;
      canvas.scroll({ dx: e.clientX - last.x, dy: e.clientY - last.y });
      last = { x: e.clientX, y: e.clientY };
    });
    ['pointerup', 'pointercancel', 'pointerleave'].forEach(function (type) {
      canvasEl.addEventListener(type, function () { last = null; });
    });
    viewer.get('eventBus').on('canvas.viewbox.changed', update);
  }

  async function fetchOk(url, asJson) {
    var response = await fetch(url, { credentials: 'same-origin', headers: { Accept: asJson ? 'application/json' : 'application/xml' } });
    if (!response.ok || response.redirected) {
      throw new Error('HTTP ' + response.status);
    }
    return asJson ? response.json() : response.text();
  }

  async function mount(canvasEl) {
    var progressUrl = canvasEl.getAttribute('data-progress-url');
    var sourceUrl = canvasEl.getAttribute('data-source-url');
    var wrapper = canvasEl.closest('[hidden]');
    var data = null;
    var xml;
    try {
      if (progressUrl) {
        data = await fetchOk(progressUrl, true);
        xml = data.xml;
      } else {
        xml = await fetchOk(sourceUrl, false);
      }
    } catch (err) {
      if (wrapper) wrapper.removeAttribute('hidden');
      showError(canvasEl, 'Không tải được sơ đồ (' + err.message + '). Vui lòng tải lại trang.');
      return;
    }
    if (wrapper) wrapper.removeAttribute('hidden');
    canvasEl.textContent = '';
    var viewer = new window.BpmnJS({ container: canvasEl });
    try {
      await viewer.importXML(xml);
    } catch (err) {
      showError(canvasEl, 'Không vẽ được sơ đồ: tệp BPMN chưa hợp lệ (' + (err && err.message ? err.message : err) + ').');
      return;
    }
    var fitScale = fit(viewer, canvasEl);
    if (data) markProgress(viewer, data);
    wireZoom(viewer, canvasEl, fitScale);
    canvasEl.setAttribute('data-ready', 'true');
  }

  function start() {
    var canvases = document.querySelectorAll('[data-diagram-viewer]');
    if (!canvases.length) return;
    if (typeof window.BpmnJS !== 'function') {
      Array.prototype.forEach.call(canvases, function (el) {
        var wrapper = el.closest('[hidden]');
        if (wrapper) wrapper.removeAttribute('hidden');
        showError(el, 'Không tải được thư viện vẽ sơ đồ (bpmn-js). Vui lòng tải lại trang hoặc báo quản trị viên.');
      });
      return;
    }
    Array.prototype.forEach.call(canvases, function (el) { mount(el); });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
