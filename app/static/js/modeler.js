/* MotCua: the BPMN modeler page (bpmn-js Modeler, served by the app) and a small properties panel.
 *
 * Reads its settings from <script type="application/json" id="modeler-config">: the draft's source and save
 * addresses, the spiffworkflow moddle descriptor, the version's form files, the dossier statuses, the lane
 * role names and the last lint result. Saves with PUT (X-CSRFToken from <meta name="csrf-token">) and shows
 * the lint issues it gets back, each element id selecting that element.
 *
 * The panel edits what MotCua reads from a model: names; for user tasks the form, the UI form,
 * dueInWorkingDays and dossierStatus (spiffworkflow:properties in extensionElements); the submission form of
 * the start event; dossierStatus of events; the lane name (= role); a sequence flow's condition and whether it
 * is its gateway's default; for service tasks the partner connector's operation, its result variable and its
 * parameters (spiffworkflow:serviceTaskOperator); for receive tasks and message catch / boundary events the
 * partner message waited for (a bpmn:Message at definitions level, reused by name) and the variable that gets
 * its payload (spiffworkflow:messageVariable). Every change is one command on the modeler's stack (undo / redo
 * work).
 * Plain ES2017, no bundler.
 */
(function () {
  'use strict';

  var SPIFF = 'spiffworkflow';
  var ZOOM_STEP = 1.25;
  var TYPE_LABELS = {
    'bpmn:UserTask': 'Công việc do người xử lý',
    'bpmn:ManualTask': 'Công việc thủ công',
    'bpmn:Task': 'Công việc (chưa rõ loại)',
    'bpmn:ScriptTask': 'Tác vụ kịch bản (tự động)',
    'bpmn:ServiceTask': 'Tác vụ dịch vụ (tự động)',
    'bpmn:BusinessRuleTask': 'Tác vụ quy tắc nghiệp vụ',
    'bpmn:SendTask': 'Tác vụ gửi',
    'bpmn:ReceiveTask': 'Tác vụ nhận',
    'bpmn:StartEvent': 'Sự kiện bắt đầu (nộp hồ sơ)',
    'bpmn:EndEvent': 'Sự kiện kết thúc',
    'bpmn:IntermediateThrowEvent': 'Mốc (sự kiện trung gian)',
    'bpmn:IntermediateCatchEvent': 'Sự kiện chờ',
    'bpmn:BoundaryEvent': 'Sự kiện biên',
    'bpmn:ExclusiveGateway': 'Cổng rẽ nhánh (chọn một nhánh)',
    'bpmn:InclusiveGateway': 'Cổng rẽ nhánh (chọn nhiều nhánh)',
    'bpmn:ParallelGateway': 'Cổng song song',
    'bpmn:EventBasedGateway': 'Cổng theo sự kiện',
    'bpmn:SequenceFlow': 'Luồng',
    'bpmn:Lane': 'Làn (vai trò xử lý)',
    'bpmn:Participant': 'Bể (đơn vị, quy trình)',
    'bpmn:SubProcess': 'Quy trình con',
    'bpmn:CallActivity': 'Gọi quy trình khác',
    'bpmn:TextAnnotation': 'Ghi chú',
    'bpmn:Association': 'Liên kết ghi chú',
    'bpmn:Group': 'Nhóm',
    'bpmn:DataObjectReference': 'Đối tượng dữ liệu',
    'bpmn:DataStoreReference': 'Kho dữ liệu'
  };
  // order of the element list: pools and lanes, then steps, then flows
  var TYPE_ORDER = ['bpmn:Participant', 'bpmn:Lane', 'bpmn:StartEvent'];
  var HUMAN_TASKS = ['bpmn:UserTask', 'bpmn:ManualTask'];
  var STATUS_EVENTS = ['bpmn:IntermediateThrowEvent', 'bpmn:IntermediateCatchEvent', 'bpmn:EndEvent',
    'bpmn:ScriptTask', 'bpmn:ServiceTask', 'bpmn:Task'];
  // events that may wait for a partner's message (with a bpmn:MessageEventDefinition)
  var MESSAGE_EVENTS = ['bpmn:IntermediateCatchEvent', 'bpmn:BoundaryEvent'];
  var OTHER_MESSAGE = '__other__';
  // a Python identifier (ASCII): names of variables and of operation parameters
  var IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
  var IDENTIFIER_ERROR = 'Chỉ dùng chữ không dấu, chữ số và dấu gạch dưới, không bắt đầu bằng chữ số (ví dụ donBuuDien).';

  /* Vietnamese for the modeler's own tool tips and menus (bpmn-js `translate` service). */
  var VI = {
    'Activate hand tool': 'Công cụ bàn tay (kéo vùng nhìn)',
    'Activate lasso tool': 'Công cụ chọn vùng',
    'Activate create/remove space tool': 'Công cụ thêm, bớt khoảng trống',
    'Activate global connect tool': 'Công cụ nối hai phần tử',
    'Create start event': 'Thêm sự kiện bắt đầu',
    'Create intermediate/boundary event': 'Thêm sự kiện trung gian (mốc)',
    'Create end event': 'Thêm sự kiện kết thúc',
    'Create gateway': 'Thêm cổng rẽ nhánh',
    'Create task': 'Thêm công việc',
    'Create expanded sub-process': 'Thêm quy trình con',
    'Create data object reference': 'Thêm đối tượng dữ liệu',
    'Create data store reference': 'Thêm kho dữ liệu',
    'Create pool/participant': 'Thêm bể (đơn vị)',
    'Create group': 'Thêm nhóm',
    'Append end event': 'Nối tiếp: sự kiện kết thúc',
    'Append gateway': 'Nối tiếp: cổng rẽ nhánh',
    'Append task': 'Nối tiếp: công việc',
    'Append intermediate/boundary event': 'Nối tiếp: sự kiện trung gian (mốc)',
    'Append timer intermediate catch event': 'Nối tiếp: sự kiện hẹn giờ',
    'Append message intermediate catch event': 'Nối tiếp: sự kiện chờ thông điệp',
    'Append signal intermediate catch event': 'Nối tiếp: sự kiện chờ tín hiệu',
    'Append conditional intermediate catch event': 'Nối tiếp: sự kiện chờ điều kiện',
    'Append receive task': 'Nối tiếp: tác vụ nhận',
    'Append compensation activity': 'Nối tiếp: hoạt động bù trừ',
    'Change element': 'Đổi loại phần tử',
    'Change type': 'Đổi loại',
    'Delete': 'Xoá',
    'Connect to other element': 'Nối tới phần tử khác',
    'Connect using association': 'Nối bằng liên kết',
    'Connect using data input association': 'Nối dữ liệu đầu vào',
    'Add text annotation': 'Thêm ghi chú',
    'Add lane above': 'Thêm làn phía trên',
    'Add lane below': 'Thêm làn phía dưới',
    'Divide into two lanes': 'Chia thành hai làn',
    'Divide into three lanes': 'Chia thành ba làn',
    'Align elements': 'Căn hàng các phần tử',
    'Distribute elements horizontally': 'Giãn đều theo chiều ngang',
    'Distribute elements vertically': 'Giãn đều theo chiều dọc',
    'Search in diagram': 'Tìm trong sơ đồ',
    'Task': 'Công việc (chưa rõ loại)',
    'User task': 'Công việc do người xử lý',
    'Manual task': 'Công việc thủ công',
    'Service task': 'Tác vụ dịch vụ (tự động)',
    'Script task': 'Tác vụ kịch bản (tự động)',
    'Send task': 'Tác vụ gửi',
    'Receive task': 'Tác vụ nhận',
    'Business rule task': 'Tác vụ quy tắc nghiệp vụ',
    'Call activity': 'Gọi quy trình khác',
    'Sub-process': 'Quy trình con',
    'Sub-process (collapsed)': 'Quy trình con (thu gọn)',
    'Sub-process (expanded)': 'Quy trình con (mở rộng)',
    'Start event': 'Sự kiện bắt đầu',
    'End event': 'Sự kiện kết thúc',
    'Intermediate throw event': 'Mốc (sự kiện trung gian)',
    'Timer intermediate catch event': 'Sự kiện hẹn giờ',
    'Timer boundary event': 'Sự kiện hẹn giờ trên biên',
    'Message intermediate catch event': 'Sự kiện chờ thông điệp',
    'Terminate end event': 'Kết thúc toàn bộ',
    'Exclusive gateway': 'Cổng rẽ nhánh (chọn một nhánh)',
    'Inclusive gateway': 'Cổng rẽ nhánh (chọn nhiều nhánh)',
    'Parallel gateway': 'Cổng song song',
    'Event-based gateway': 'Cổng theo sự kiện',
    'Sequence flow': 'Luồng',
    'Default flow': 'Luồng mặc định',
    'Conditional flow': 'Luồng có điều kiện',
    'Empty pool/participant': 'Bể rỗng',
    'Expanded pool/participant': 'Bể mở rộng',
    'Data object reference': 'Đối tượng dữ liệu',
    'Data store reference': 'Kho dữ liệu'
  };

  function translateVi(template, replacements) {
    var text = VI[template] || template;
    return text.replace(/{([^}]+)}/g, function (whole, key) {
      return replacements && replacements[key] !== undefined ? replacements[key] : whole;
    });
  }

  var cfg;
  var csrfToken = '';
  var modeler = null;
  var services = {};
  var dirty = false;
  var saving = false;
  var selected = null;
  var listTimer = null;
  var pendingFocus = null;  // data-key of the panel control to focus after the next redraw

  // ------------------------------------------------------------------ small DOM helpers

  function byId(id) { return document.getElementById(id); }

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else if (key.indexOf('on') === 0) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function typeLabel(type) { return TYPE_LABELS[type] || type.replace(/^bpmn:/, ''); }

  function isAny(bo, types) {
    return types.some(function (t) { return bo.$instanceOf(t); });
  }

  function alertBox(message) {
    var box = byId('mc-alert');
    if (!message) {
      box.setAttribute('hidden', '');
      box.textContent = '';
      return;
    }
    box.textContent = message;
    box.removeAttribute('hidden');
  }

  function setDirty(value, text) {
    dirty = value;
    var label = text !== undefined ? text : (value ? 'Có thay đổi chưa lưu.' : '');
    var status = byId('mc-dirty');
    if (status.textContent !== label) status.textContent = label;
  }

  // ------------------------------------------------------------------ spiffworkflow:properties

  function propertiesOf(bo) {
    var ext = bo.get('extensionElements');
    if (!ext) return null;
    var values = ext.get('values') || [];
    for (var i = 0; i < values.length; i++) {
      if (values[i].$instanceOf(SPIFF + ':Properties')) return values[i];
    }
    return null;
  }

  function getProperty(bo, name) {
    var props = propertiesOf(bo);
    if (!props) return '';
    var list = props.get('properties') || [];
    for (var i = 0; i < list.length; i++) {
      if (list[i].name === name) return list[i].value || '';
    }
    return '';
  }

  /* Set several properties at once ({name: value}; '' removes one) as a single undoable command. */
  function setProperties(element, changes) {
    var moddle = services.moddle;
    var modeling = services.modeling;
    var bo = element.businessObject;
    var names = Object.keys(changes);
    function newProperty(name, parent) {
      var p = moddle.create(SPIFF + ':Property', { name: name, value: String(changes[name]) });
      p.$parent = parent;
      return p;
    }
    var props = propertiesOf(bo);
    if (props) {
      var kept = [];
      var seen = {};
      (props.get('properties') || []).forEach(function (p) {
        if (!(p.name in changes)) { kept.push(p); return; }
        seen[p.name] = true;
        if (changes[p.name] !== '') kept.push(newProperty(p.name, props));
      });
      names.forEach(function (name) {
        if (!seen[name] && changes[name] !== '') kept.push(newProperty(name, props));
      });
      modeling.updateModdleProperties(element, props, { properties: kept });
      return;
    }
    var wanted = names.filter(function (name) { return changes[name] !== ''; });
    if (!wanted.length) return;
    props = moddle.create(SPIFF + ':Properties', { properties: [] });
    props.properties = wanted.map(function (name) { return newProperty(name, props); });
    var ext = bo.get('extensionElements');
    if (ext) {
      props.$parent = ext;
      modeling.updateModdleProperties(element, ext, { values: (ext.get('values') || []).concat([props]) });
    } else {
      ext = moddle.create('bpmn:ExtensionElements', { values: [props] });
      ext.$parent = bo;
      props.$parent = ext;
      modeling.updateModdleProperties(element, bo, { extensionElements: ext });
    }
  }

  // ------------------------------------------------------------------ other spiffworkflow extensions

  /* The first extension value of `type` in target's extensionElements (target: a business object or an event
   * definition), or null. */
  function extensionOf(target, type) {
    var ext = target.get('extensionElements');
    if (!ext) return null;
    var values = ext.get('values') || [];
    for (var i = 0; i < values.length; i++) {
      if (values[i].$instanceOf(type)) return values[i];
    }
    return null;
  }

  /* Put `value` (a new moddle element) in place of `old` in target's extensionElements, or add it when there
   * is no `old`; with no `value`, remove `old`. One command. */
  function replaceExtension(element, target, old, value) {
    var modeling = services.modeling;
    var ext = target.get('extensionElements');
    if (ext) {
      var values = (ext.get('values') || []).slice();
      var index = old ? values.indexOf(old) : -1;
      if (value) {
        value.$parent = ext;
        if (index >= 0) values[index] = value;
        else values.push(value);
      } else if (index >= 0) {
        values.splice(index, 1);
      } else {
        return;
      }
      modeling.updateModdleProperties(element, ext, { values: values });
      return;
    }
    if (!value) return;
    ext = services.moddle.create('bpmn:ExtensionElements', { values: [value] });
    ext.$parent = target;
    value.$parent = ext;
    modeling.updateModdleProperties(element, target, { extensionElements: ext });
  }

  /* Several modeling calls as one step of the command stack (one undo). */
  function BatchHandler() {}
  BatchHandler.prototype.preExecute = function (context) { context.run(); };
  BatchHandler.prototype.execute = function () { return []; };
  BatchHandler.prototype.revert = function () { return []; };

  function batch(run) { services.commandStack.execute('motcua.batch', { run: run }); }

  function operatorOf(bo) { return extensionOf(bo, SPIFF + ':ServiceTaskOperator'); }

  function parametersOf(operator) {
    var params = operator.get('parameters');
    return params ? (params.get('parameter') || []) : [];
  }

  function messageDefinitionOf(bo) {
    if (!isAny(bo, MESSAGE_EVENTS)) return null;
    var defs = bo.get('eventDefinitions') || [];
    for (var i = 0; i < defs.length; i++) {
      if (defs[i].$instanceOf('bpmn:MessageEventDefinition')) return defs[i];
    }
    return null;
  }

  function definedMessages() {
    return (modeler.getDefinitions().get('rootElements') || []).filter(function (e) {
      return e.$instanceOf('bpmn:Message');
    });
  }

  /* Make `holder` (a receive task or a message event definition) wait for the message named `name`: the
   * bpmn:Message of that name at definitions level, created when there is none. '' clears messageRef. */
  function setMessage(element, holder, name) {
    batch(function () {
      var message;
      if (name) {
        message = definedMessages().filter(function (m) { return m.get('name') === name; })[0];
        if (!message) {
          var definitions = modeler.getDefinitions();
          message = services.moddle.create('bpmn:Message', { name: name });
          message.set('id', services.moddle.ids.nextPrefixed('Message_', message));
          message.$parent = definitions;
          services.modeling.updateModdleProperties(element, definitions,
            { rootElements: (definitions.get('rootElements') || []).concat([message]) });
        }
      }
      services.modeling.updateModdleProperties(element, holder, { messageRef: message });
    });
  }

  // ------------------------------------------------------------------ the properties panel

  var fieldSeq = 0;

  function field(label, control, hint, errorId) {
    var id = control.id;
    var describedBy = [];
    var hintNode = null;
    if (hint) {
      hintNode = h('span', { className: 'sf-hint', id: id + '-hint' }, [hint]);
      describedBy.push(id + '-hint');
    }
    var errorNode = h('span', { className: 'sf-error-message', id: errorId || (id + '-error'), hidden: true });
    describedBy.push(errorNode.id);
    control.setAttribute('aria-describedby', describedBy.join(' '));
    return h('div', { className: 'sf-field' }, [
      h('label', { className: 'sf-label', for: id, text: label }), hintNode, errorNode, control
    ]);
  }

  function showFieldError(control, message) {
    var error = byId(control.id + '-error');
    if (message) {
      control.setAttribute('aria-invalid', 'true');
      error.textContent = message;
      error.removeAttribute('hidden');
      control.closest('.sf-field').classList.add('sf-field--error');
    } else {
      control.removeAttribute('aria-invalid');
      error.textContent = '';
      error.setAttribute('hidden', '');
      control.closest('.sf-field').classList.remove('sf-field--error');
    }
  }

  function nextId(name) { fieldSeq += 1; return 'mc-f-' + name + '-' + fieldSeq; }

  function textInput(name, value, onChange, attrs) {
    var input = h('input', Object.assign({ className: 'sf-input', id: nextId(name), type: 'text', value: value || '',
      'data-key': name }, attrs || {}));
    input.value = value || '';
    input.addEventListener('change', function () { onChange(input.value, input); });
    return input;
  }

  function selectInput(name, options, value, onChange, unknownNote) {
    var select = h('select', { className: 'sf-input', id: nextId(name), 'data-key': name });
    var found = false;
    options.forEach(function (opt) {
      var o = h('option', { value: opt[0], text: opt[1] });
      if (opt[0] === value) { o.selected = true; found = true; }
      select.appendChild(o);
    });
    if (value && !found) {
      select.appendChild(h('option', { value: value, selected: true,
        text: value + (unknownNote || ' (không có trong phiên bản này)') }));
    }
    select.addEventListener('change', function () { onChange(select.value, select); });
    return select;
  }

  function formOptions(list, emptyLabel) {
    return [['', emptyLabel]].concat(list.map(function (f) {
      return [f.name, f.title ? f.name + ' — ' + f.title : f.name];
    }));
  }

  function statusOptions() {
    return [['', '— Không đổi trạng thái hồ sơ —']].concat(cfg.statuses.map(function (s) {
      return [s[0], s[0] + ' – ' + s[1]];
    }));
  }

  function formFields(element, bo, submission) {
    var current = getProperty(bo, 'formJsonSchemaFilename');
    var ui = getProperty(bo, 'formUiSchemaFilename');
    var formSelect = selectInput('form', formOptions(cfg.forms.schemas, '— Chưa chọn biểu mẫu —'), current,
      function (value) {
        var changes = { formJsonSchemaFilename: value };
        // keep the UI schema in step with the form when the pair is named alike (x.json / x.ui.json)
        var pair = value ? value.replace(/\.json$/, '.ui.json') : '';
        var hasPair = cfg.forms.ui.some(function (f) { return f.name === pair; });
        var oldPair = current ? current.replace(/\.json$/, '.ui.json') : '';
        if (hasPair && (!ui || ui === oldPair)) changes.formUiSchemaFilename = pair;
        else if (!value || ui === oldPair) changes.formUiSchemaFilename = '';
        setProperties(element, changes);
      });
    var uiSelect = selectInput('uiform', formOptions(cfg.forms.ui, '— Không dùng —'), ui, function (value) {
      setProperties(element, { formUiSchemaFilename: value });
    });
    return [
      field(submission ? 'Biểu mẫu nộp hồ sơ' : 'Biểu mẫu của bước', formSelect,
        submission ? 'Biểu mẫu công dân, tổ chức điền khi nộp hồ sơ (thuộc tính formJsonSchemaFilename).'
          : 'Biểu mẫu người xử lý điền ở bước này (thuộc tính formJsonSchemaFilename).'),
      field('Bố cục biểu mẫu (tuỳ chọn)', uiSelect, 'Tệp .ui.json sắp xếp, gợi ý cách hiển thị biểu mẫu.')
    ];
  }

  function statusField(element, bo, hint) {
    var select = selectInput('status', statusOptions(), getProperty(bo, 'dossierStatus'), function (value) {
      setProperties(element, { dossierStatus: value });
    });
    return field('Trạng thái hồ sơ', select, hint);
  }

  function dueField(element, bo) {
    var input = textInput('due', getProperty(bo, 'dueInWorkingDays'), function (value, control) {
      var text = value.trim().replace(',', '.');
      var number = Number(text);
      if (text !== '' && (!isFinite(number) || number <= 0 || number > 365)) {
        showFieldError(control, 'Nhập số ngày làm việc lớn hơn 0 (ví dụ 0.5 hoặc 2), hoặc để trống.');
        return;
      }
      showFieldError(control, '');
      setProperties(element, { dueInWorkingDays: text });
    }, { inputmode: 'decimal', autocomplete: 'off' });
    return field('Thời hạn của bước (ngày làm việc)', input,
      'Ví dụ 0.5 là nửa ngày làm việc. Để trống nếu bước không có thời hạn riêng.');
  }

  function nameField(element, bo, isLane) {
    var attrs = { autocomplete: 'off' };
    if (isLane) attrs.list = 'mc-lane-roles';
    var input = textInput('name', bo.get('name'), function (value) {
      services.modeling.updateLabel(element, value.trim() || null);
    }, attrs);
    var hint = isLane
      ? 'Tên làn quyết định vai trò xử lý các bước trong làn. Dùng một trong các tên: ' + cfg.laneRoles.join('; ') + '.'
      : null;
    return field(isLane ? 'Tên làn (vai trò)' : 'Tên', input, hint);
  }

  function flowFields(element, bo) {
    var out = [];
    var source = bo.sourceRef;
    var fromGateway = source && isAny(source, ['bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway']);
    var isDefault = fromGateway && source.get('default') === bo;
    if (fromGateway) {
      var checkbox = h('input', { type: 'checkbox', id: nextId('default'), className: 'sf-choice__input', 'data-key': 'default' });
      checkbox.checked = isDefault;
      checkbox.addEventListener('change', function () {
        services.modeling.updateProperties(element.source, { 'default': checkbox.checked ? bo : undefined });
      });
      out.push(h('div', { className: 'sf-field sf-choice' }, [
        checkbox, h('label', { for: checkbox.id, className: 'sf-choice__label', text: 'Nhánh mặc định (đi khi không điều kiện nào đúng)' })
      ]));
    }
    var condition = bo.get('conditionExpression');
    var area = h('textarea', { className: 'sf-input mc-code', id: nextId('condition'), rows: '3', spellcheck: 'false',
      'data-key': 'condition' });
    area.value = condition ? (condition.get('body') || '') : '';
    area.addEventListener('change', function () {
      var text = area.value.trim();
      var expr;
      if (text) {
        expr = services.moddle.create('bpmn:FormalExpression', { body: text });
        expr.$parent = bo;
      }
      services.modeling.updateProperties(element, { conditionExpression: expr });
    });
    var hint = isDefault ? 'Nhánh mặc định không cần điều kiện.'
      : 'Biểu thức Python đọc các trường của biểu mẫu, ví dụ: reception_decision == "accept". '
        + (fromGateway ? 'Để trống nếu đây là nhánh mặc định.' : 'Chỉ cần cho luồng đi ra từ cổng rẽ nhánh.');
    out.push(field('Điều kiện rẽ nhánh', area, hint));
    return out;
  }

  // ------------------------------------------------------------------ partner connectors (service tasks)

  function identifierInput(name, value, onValid, attrs) {
    return textInput(name, value, function (text, control) {
      var trimmed = text.trim();
      if (trimmed && !IDENTIFIER.test(trimmed)) {
        showFieldError(control, IDENTIFIER_ERROR);
        return;
      }
      showFieldError(control, '');
      onValid(trimmed);
    }, Object.assign({ autocomplete: 'off', spellcheck: 'false' }, attrs || {}));
  }

  function connectorOf(id) {
    return (cfg.connectors || []).filter(function (c) { return c.id === id; })[0] || null;
  }

  function serviceFields(element, bo) {
    var operator = operatorOf(bo);
    var current = operator ? (operator.get('id') || '') : '';
    var options = [['', '— Chưa chọn thao tác —']].concat((cfg.connectors || []).map(function (c) {
      return [c.id, c.label];
    }));
    var select = selectInput('operator', options, current, function (value) {
      var moddle = services.moddle;
      if (!value) {
        if (operator) replaceExtension(element, bo, operator, null);
        return;
      }
      if (operator) {
        services.modeling.updateModdleProperties(element, operator, { id: value });
        return;
      }
      var created = moddle.create(SPIFF + ':ServiceTaskOperator', { id: value });
      var params = moddle.create(SPIFF + ':Parameters', { parameter: [] });
      params.$parent = created;
      created.set('parameters', params);
      replaceExtension(element, bo, null, created);
    }, ' (không có trong danh sách kết nối)');
    var known = connectorOf(current);
    var hint = 'Đối tác được gọi qua hộp thư đi sau khi lưu hồ sơ (có thử lại). Để chờ trả lời, đặt sau tác vụ này '
      + 'một tác vụ nhận hoặc sự kiện chờ thông điệp.';
    var out = [field('Kết nối và thao tác', select, hint)];
    if (!operator) {
      out.push(h('p', { className: 'muted', text: 'Chọn kết nối và thao tác để đặt biến kết quả và tham số.' }));
      return out;
    }
    var result = identifierInput('resultVariable', operator.get('resultVariable'), function (text) {
      services.modeling.updateModdleProperties(element, operator, { resultVariable: text || undefined });
    });
    out.push(field('Biến nhận kết quả (tuỳ chọn)', result,
      'Tên biến lưu thông tin lời gọi (đã xếp vào hộp thư đi, mã lời gọi). Để trống nếu không cần.'));
    out.push(parametersEditor(element, operator, known));
    return out;
  }

  function parametersEditor(element, operator, known) {
    var list = parametersOf(operator);
    var suggested = known ? known.parameters : [];
    var hintId = nextId('params-hint');
    var hint = 'Mỗi giá trị là một biểu thức Python: chuỗi trong dấu nháy (\'delivery\'), số (25000), True / False, '
      + 'hoặc tên trường của biểu mẫu.';
    if (suggested.length) {
      hint += ' Thao tác này đọc: ' + suggested.map(function (p) {
        return p.name + ' (' + p.type + ', ' + p.hint + ')';
      }).join('; ') + '.';
    }
    var box = h('fieldset', { className: 'sf-fieldset sf-field mc-params', 'aria-describedby': hintId }, [
      h('legend', { className: 'sf-legend', text: 'Tham số của thao tác' }),
      h('span', { className: 'sf-hint', id: hintId, text: hint })
    ]);
    var datalistId = null;
    if (suggested.length) {
      datalistId = nextId('param-names');
      var datalist = h('datalist', { id: datalistId });
      suggested.forEach(function (p) { datalist.appendChild(h('option', { value: p.name })); });
      box.appendChild(datalist);
    }
    if (!list.length) box.appendChild(h('p', { className: 'muted', text: 'Chưa có tham số.' }));
    list.forEach(function (param, index) {
      var key = 'param-' + index + '-';
      var name = identifierInput(key + 'id', param.get('id'), function (text) {
        var changes = { id: text || undefined };
        var match = suggested.filter(function (p) { return p.name === text; })[0];
        if (match && !param.get('value')) changes.type = match.type;
        services.modeling.updateModdleProperties(element, param, changes);
      }, datalistId ? { list: datalistId } : null);
      var currentType = param.get('type') || '';
      var types = (currentType ? [] : [['', '— Chọn kiểu —']]).concat(cfg.parameterTypes || []);
      var type = selectInput(key + 'type', types, currentType, function (value) {
        services.modeling.updateModdleProperties(element, param, { type: value || undefined });
      }, ' (kiểu khác)');
      var value = textInput(key + 'value', param.get('value'), function (text) {
        services.modeling.updateModdleProperties(element, param, { value: text.trim() || undefined });
      }, { autocomplete: 'off', spellcheck: 'false', className: 'sf-input mc-code' });
      var remove = h('button', {
        type: 'button', className: 'button secondary mc-small', 'data-key': key + 'remove',
        onclick: function () { removeParameter(element, operator, param, index); }
      }, ['Xoá', h('span', { className: 'visually-hidden', text: ' tham số ' + (index + 1) })]);
      box.appendChild(h('fieldset', { className: 'card mc-param' }, [
        h('legend', { className: 'sf-legend', text: 'Tham số ' + (index + 1) }),
        field('Tên tham số', name), field('Kiểu dữ liệu', type), field('Giá trị (biểu thức Python)', value), remove
      ]));
    });
    box.appendChild(h('button', {
      type: 'button', className: 'button secondary mc-small', 'data-key': 'param-add', text: 'Thêm tham số',
      onclick: function () { addParameter(element, operator); }
    }));
    return box;
  }

  function addParameter(element, operator) {
    var moddle = services.moddle;
    var list = parametersOf(operator);
    var param = moddle.create(SPIFF + ':Parameter', { type: 'str' });
    var params = operator.get('parameters');
    pendingFocus = 'param-' + list.length + '-id';
    if (params) {
      param.$parent = params;
      services.modeling.updateModdleProperties(element, params, { parameter: list.concat([param]) });
    } else {
      params = moddle.create(SPIFF + ':Parameters', { parameter: [param] });
      param.$parent = params;
      params.$parent = operator;
      services.modeling.updateModdleProperties(element, operator, { parameters: params });
    }
  }

  function removeParameter(element, operator, param, index) {
    var list = parametersOf(operator);
    var kept = list.filter(function (p) { return p !== param; });
    pendingFocus = kept.length ? 'param-' + Math.min(index, kept.length - 1) + '-id' : 'param-add';
    services.modeling.updateModdleProperties(element, operator.get('parameters'), { parameter: kept });
  }

  // ------------------------------------------------------------------ partner messages (receive tasks, events)

  /* `holder` carries messageRef and the messageVariable: the receive task itself, or the event's
   * bpmn:MessageEventDefinition. */
  function messageFields(element, holder) {
    var ref = holder.get('messageRef');
    var current = ref ? (ref.get('name') || ref.get('id') || '') : '';
    var known = (cfg.messages || []).map(function (m) { return m[0]; });
    var options = [['', '— Chưa chọn thông điệp —']].concat((cfg.messages || []).map(function (m) {
      return [m[0], m[1] + ' (' + m[0] + ')'];
    }));
    definedMessages().forEach(function (m) {
      var name = m.get('name');
      if (name && known.indexOf(name) < 0) {
        known.push(name);
        options.push([name, name + ' (thông điệp đã khai báo trong sơ đồ)']);
      }
    });
    options.push([OTHER_MESSAGE, 'Thông điệp khác (nhập tên)…']);
    var other = textInput('messageName', '', function (text, control) {
      var name = text.trim();
      if (!name) {
        showFieldError(control, 'Nhập tên thông điệp, ví dụ vnpost.delivery.delivered.');
        return;
      }
      showFieldError(control, '');
      pendingFocus = 'message';  // the redrawn select shows the new name (this input is hidden again)
      setMessage(element, holder, name);
    }, { autocomplete: 'off', spellcheck: 'false' });
    var otherField = field('Tên thông điệp khác', other,
      'Tên thông điệp đối tác gửi tới, giống hệt tên đối tác dùng (ví dụ webhook.answer).');
    otherField.setAttribute('hidden', '');
    var select = selectInput('message', options, current, function (value) {
      if (value === OTHER_MESSAGE) {
        otherField.removeAttribute('hidden');
        other.focus();
        return;
      }
      otherField.setAttribute('hidden', '');
      setMessage(element, holder, value);
    });
    var variable = extensionOf(holder, SPIFF + ':MessageVariable');
    var input = identifierInput('messageVariable', variable ? variable.get('value') : '', function (text) {
      if (!text) {
        if (variable) replaceExtension(element, holder, variable, null);
      } else if (variable) {
        services.modeling.updateModdleProperties(element, variable, { value: text });
      } else {
        replaceExtension(element, holder, null,
          services.moddle.create(SPIFF + ':MessageVariable', { value: text }));
      }
    });
    return [
      field('Chờ thông điệp', select, 'Quy trình dừng ở đây cho tới khi đối tác gửi thông điệp này (bưu điện, '
        + 'trục liên thông…). Thông điệp được khai báo một lần cho cả sơ đồ.'),
      otherField,
      field('Biến nhận dữ liệu', input, 'Tên biến nhận nội dung thông điệp (ví dụ buuChinh); các bước sau đọc '
        + 'được biến này.')
    ];
  }

  function renderPanel(element) {
    var body = byId('mc-panel-body');
    body.textContent = '';
    var list = byId('mc-element');
    if (!element) {
      list.value = '';
      body.appendChild(h('p', { className: 'muted', text: 'Chọn một phần tử trên sơ đồ (hoặc trong danh sách trên) '
        + 'để sửa tên, biểu mẫu, thời hạn, trạng thái hồ sơ, điều kiện rẽ nhánh, kết nối đối tác hay thông điệp chờ.' }));
      return;
    }
    var bo = element.businessObject;
    if (list.querySelector('option[value="' + CSS.escape(element.id) + '"]')) list.value = element.id;
    body.appendChild(h('p', { className: 'mc-type' }, [
      h('strong', { text: typeLabel(bo.$type) }), ' · mã ', h('code', { text: element.id })
    ]));
    var parts = [];
    var isLane = bo.$instanceOf('bpmn:Lane');
    if (!bo.$instanceOf('bpmn:Association')) parts.push(nameField(element, bo, isLane));
    if (isLane) {
      var datalist = h('datalist', { id: 'mc-lane-roles' });
      cfg.laneRoles.forEach(function (name) { datalist.appendChild(h('option', { value: name })); });
      parts.push(datalist);
    }
    if (isAny(bo, HUMAN_TASKS)) {
      parts = parts.concat(formFields(element, bo, false));
      parts.push(dueField(element, bo));
      parts.push(statusField(element, bo, 'Trạng thái hồ sơ khi bước này bắt đầu (để trống nếu không đổi).'));
    } else if (bo.$instanceOf('bpmn:StartEvent')) {
      parts = parts.concat(formFields(element, bo, true));
    } else if (isAny(bo, STATUS_EVENTS)) {
      // (receive and service tasks are bpmn:Task too)
      if (bo.$instanceOf('bpmn:ServiceTask')) parts = parts.concat(serviceFields(element, bo));
      if (bo.$instanceOf('bpmn:ReceiveTask')) parts = parts.concat(messageFields(element, bo));
      if (messageDefinitionOf(bo)) parts = parts.concat(messageFields(element, messageDefinitionOf(bo)));
      parts.push(statusField(element, bo, 'Trạng thái hồ sơ khi quy trình đi qua đây (để trống nếu không đổi).'));
    } else if (messageDefinitionOf(bo)) {
      parts = parts.concat(messageFields(element, messageDefinitionOf(bo)));
    } else if (bo.$instanceOf('bpmn:SequenceFlow')) {
      parts = parts.concat(flowFields(element, bo));
    }
    parts.forEach(function (p) { body.appendChild(p); });
  }

  /* Re-draw the panel after a change (its own, an undo, a move…), keeping the keyboard focus where it was. */
  var panelTimer = null;
  function schedulePanelRefresh() {
    if (panelTimer) clearTimeout(panelTimer);
    panelTimer = setTimeout(function () {
      panelTimer = null;
      var body = byId('mc-panel-body');
      var active = document.activeElement;
      var key = pendingFocus || (active && body.contains(active) ? active.getAttribute('data-key') : null);
      pendingFocus = null;
      if (selected) selected = services.elementRegistry.get(selected.id) || null;  // replaced shapes keep their id
      renderPanel(selected);
      if (key) {
        var again = body.querySelector('[data-key="' + key + '"]');
        if (again) again.focus();
      }
    }, 0);
  }

  // ------------------------------------------------------------------ the element list (keyboard selection)

  function listableElements() {
    var root = services.canvas.getRootElement();
    return services.elementRegistry.filter(function (el) {
      return el !== root && !el.labelTarget && el.businessObject && el.type !== 'label'
        && !el.businessObject.$instanceOf('bpmn:Process') && !el.businessObject.$instanceOf('bpmn:Collaboration');
    });
  }

  function rank(el) {
    var i = TYPE_ORDER.indexOf(el.type);
    if (i >= 0) return i;
    if (el.waypoints) return 99;
    return 10;
  }

  function refreshElementList() {
    var list = byId('mc-element');
    var keep = selected ? selected.id : '';
    var items = listableElements().sort(function (a, b) {
      return rank(a) - rank(b) || String(a.businessObject.name || a.id).localeCompare(String(b.businessObject.name || b.id), 'vi');
    });
    list.textContent = '';
    list.appendChild(h('option', { value: '', text: '— Chưa chọn phần tử —' }));
    items.forEach(function (el) {
      var name = el.businessObject.name ? String(el.businessObject.name).replace(/\s+/g, ' ') : '(chưa đặt tên)';
      list.appendChild(h('option', { value: el.id, text: typeLabel(el.type) + ': ' + name + ' [' + el.id + ']' }));
    });
    list.value = keep && services.elementRegistry.get(keep) ? keep : '';
  }

  function scheduleListRefresh() {
    if (listTimer) clearTimeout(listTimer);
    listTimer = setTimeout(function () { listTimer = null; refreshElementList(); }, 150);
  }

  function selectElement(id, focusPanel) {
    var el = services.elementRegistry.get(id);
    if (!el) return false;
    services.selection.select(el);
    try { services.canvas.scrollToElement(el, { top: 120, bottom: 120, left: 120, right: 120 }); } catch (e) { /* older canvases */ }
    if (focusPanel) {
      var first = byId('mc-panel-body').querySelector('input, select, textarea');
      (first || byId('mc-panel-title')).focus();
    }
    return true;
  }

  // ------------------------------------------------------------------ lint result

  function renderLint(issues, savedNow) {
    var box = byId('mc-lint');
    box.textContent = '';
    issues = issues || [];
    var errors = issues.filter(function (i) { return i.level === 'error'; });
    var warnings = issues.filter(function (i) { return i.level !== 'error'; });
    var prefix = 'Kết quả lần lưu gần nhất: ';
    if (savedNow) {
      var time = new Date().toLocaleTimeString('vi-VN', { hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Ho_Chi_Minh' });
      prefix = 'Đã lưu bản nháp lúc ' + time + '. ';
    }
    var summary;
    if (errors.length) {
      summary = 'Còn ' + errors.length + ' lỗi' + (warnings.length ? ' và ' + warnings.length + ' cảnh báo' : '')
        + '; cần sửa hết lỗi trước khi xuất bản.';
    } else if (warnings.length) {
      summary = 'Quy trình đạt kiểm tra (còn ' + warnings.length + ' cảnh báo), có thể xuất bản.';
    } else {
      summary = 'Quy trình đạt kiểm tra, có thể xuất bản.';
    }
    box.appendChild(h('p', { className: 'mc-lint-summary notice ' + (errors.length ? 'notice-error' : 'notice-success'),
      id: 'mc-lint-summary', text: prefix + summary }));
    if (!issues.length) return;
    var list = h('ul', { className: 'lint-list', id: 'mc-lint-issues' });
    errors.concat(warnings).forEach(function (issue) {
      var parts = [h('strong', { text: issue.level === 'error' ? 'Lỗi' : 'Cảnh báo' }), ' '];
      if (issue.element) {
        if (services.elementRegistry.get(issue.element)) {
          parts.push(h('button', {
            type: 'button', className: 'link-button mc-element-link', 'data-element': issue.element,
            onclick: function () { selectElement(issue.element, true); }
          }, [h('span', { className: 'visually-hidden', text: 'Chọn trên sơ đồ: ' }), h('code', { text: issue.element })]));
        } else {
          parts.push(h('code', { text: issue.element }));
        }
        if (issue.name) parts.push(' “' + issue.name + '”');
      }
      parts.push(': ' + issue.message);
      list.appendChild(h('li', { className: 'lint-' + issue.level }, parts));
    });
    box.appendChild(list);
  }

  // ------------------------------------------------------------------ saving

  async function errorText(response) {
    var type = response.headers.get('Content-Type') || '';
    if (type.indexOf('application/json') >= 0) {
      try {
        var body = await response.json();
        if (body && body.error && body.error.message) return body.error.message;
      } catch (e) { /* fall through */ }
    }
    switch (response.status) {
      case 400: return 'Phiên làm việc đã hết hạn hoặc dữ liệu không hợp lệ. Hãy tải lại trang rồi lưu lại (tải xuống sơ đồ trước nếu cần).';
      case 403: return 'Bạn không có quyền sửa quy trình này.';
      case 404: return 'Không tìm thấy bản nháp này nữa (có thể đã bị xoá).';
      case 409: return 'Phiên bản này không còn là bản nháp (có thể vừa được xuất bản); hãy mở bản nháp mới để sửa.';
      case 413: return 'Sơ đồ quá lớn để lưu (tối đa 5 MB).';
      default: return 'Máy chủ chưa lưu được (mã ' + response.status + '). Vui lòng thử lại.';
    }
  }

  async function save() {
    if (saving || !modeler) return;
    saving = true;
    var button = byId('mc-save');
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    setDirty(dirty, 'Đang lưu…');
    try {
      var result = await modeler.saveXML({ format: true });
      var response = await fetch(cfg.saveUrl, {
        method: 'PUT',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/xml; charset=utf-8', 'X-CSRFToken': csrfToken, Accept: 'application/json' },
        body: result.xml
      });
      var type = response.headers.get('Content-Type') || '';
      if (response.redirected || (response.ok && type.indexOf('application/json') < 0)) {
        throw new Error('Phiên đăng nhập đã hết. Hãy đăng nhập lại trong một thẻ mới rồi bấm “Lưu bản nháp” lần nữa; sơ đồ đang vẽ vẫn còn ở đây.');
      }
      if (!response.ok) throw new Error(await errorText(response));
      var data = await response.json();
      alertBox('');
      setDirty(false, 'Đã lưu.');
      renderLint(data.issues, true);
    } catch (err) {
      setDirty(true, 'Chưa lưu được.');
      alertBox('Không lưu được bản nháp: ' + (err && err.message ? err.message : err));
    } finally {
      saving = false;
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  // ------------------------------------------------------------------ start

  /* Fit the diagram, leaving room on the left for the tool palette that floats over the canvas. */
  function fitBesidePalette() {
    var canvas = services.canvas;
    canvas.zoom('fit-viewport', 'auto');
    var palette = byId('edit-canvas').querySelector('.djs-palette');
    var room = palette ? palette.getBoundingClientRect().right - byId('edit-canvas').getBoundingClientRect().left + 8 : 0;
    var width = byId('edit-canvas').clientWidth;
    if (room > 0 && width > room * 2) {
      canvas.zoom(canvas.zoom() * 0.97 * (width - room) / width, 'auto');
      canvas.scroll({ dx: room / 2, dy: 0 });
    }
  }

  function wireToolbar() {
    byId('mc-save').addEventListener('click', save);
    byId('mc-undo').addEventListener('click', function () { services.commandStack.undo(); });
    byId('mc-redo').addEventListener('click', function () { services.commandStack.redo(); });
    Array.prototype.forEach.call(document.querySelectorAll('[data-zoom][aria-controls="edit-canvas"]'), function (b) {
      b.addEventListener('click', function () {
        var kind = b.getAttribute('data-zoom');
        if (kind === 'fit') fitBesidePalette();
        else services.canvas.zoom(services.canvas.zoom() * (kind === 'in' ? ZOOM_STEP : 1 / ZOOM_STEP));
      });
    });
    byId('mc-element').addEventListener('change', function (e) {
      if (e.target.value) selectElement(e.target.value, false);
      else services.selection.select(null);
    });
    document.addEventListener('keydown', function (e) {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === 's' || e.key === 'S')) {
        e.preventDefault();
        save();
      }
    });
    window.addEventListener('beforeunload', function (e) {
      if (dirty) {
        e.preventDefault();
        e.returnValue = '';
      }
    });
  }

  function wireEvents() {
    var eventBus = services.eventBus;
    eventBus.on('selection.changed', function (e) {
      var list = e.newSelection || [];
      var el = list.length === 1 ? list[0] : null;
      if (el && el.labelTarget) el = el.labelTarget;
      selected = el;
      renderPanel(el);
    });
    eventBus.on('commandStack.changed', function () {
      setDirty(true);
      byId('mc-undo').disabled = !services.commandStack.canUndo();
      byId('mc-redo').disabled = !services.commandStack.canRedo();
      if (selected && !services.elementRegistry.get(selected.id)) {
        selected = null;
        renderPanel(null);
      } else if (selected) {
        schedulePanelRefresh();
      }
      scheduleListRefresh();
    });
  }

  async function start() {
    cfg = JSON.parse(byId('modeler-config').textContent);
    var meta = document.querySelector('meta[name="csrf-token"]');
    csrfToken = meta ? meta.getAttribute('content') : '';
    var canvasEl = byId('edit-canvas');
    if (typeof window.BpmnJS !== 'function') {
      canvasEl.textContent = '';
      alertBox('Không tải được thư viện vẽ sơ đồ (bpmn-js). Vui lòng tải lại trang hoặc báo quản trị viên.');
      return;
    }
    var xml;
    try {
      var response = await fetch(cfg.sourceUrl, { credentials: 'same-origin', headers: { Accept: 'application/xml' } });
      if (!response.ok || response.redirected) throw new Error('mã ' + response.status);
      xml = await response.text();
    } catch (err) {
      canvasEl.textContent = '';
      alertBox('Không tải được sơ đồ của bản nháp (' + err.message + '). Vui lòng tải lại trang.');
      return;
    }
    canvasEl.textContent = '';
    modeler = new window.BpmnJS({
      container: canvasEl,
      moddleExtensions: { spiffworkflow: cfg.moddle },
      additionalModules: [{ translate: ['value', translateVi] }]
    });
    ['canvas', 'modeling', 'elementRegistry', 'selection', 'moddle', 'eventBus', 'commandStack'].forEach(function (name) {
      services[name] = modeler.get(name);
    });
    services.commandStack.registerHandler('motcua.batch', BatchHandler);
    var result;
    try {
      result = xml.trim() ? await modeler.importXML(xml) : await modeler.createDiagram();
    } catch (err) {
      alertBox('Trình vẽ không đọc được tệp BPMN của bản nháp: ' + (err && err.message ? err.message : err)
        + '. Bạn có thể tải lên tệp khác trên trang phiên bản.');
      return;
    }
    var warnings = (result && result.warnings) || [];
    if (warnings.length) {
      alertBox('Lưu ý: trình vẽ không nhận diện ' + warnings.length + ' nội dung của tệp BPMN; các nội dung này sẽ bị bỏ khi lưu. '
        + 'Chi tiết: ' + warnings.slice(0, 3).map(function (w) { return String(w.message).split('\n')[0]; }).join('; ')
        + (warnings.length > 3 ? '; …' : '') + '.');
    }
    fitBesidePalette();
    wireToolbar();
    wireEvents();
    refreshElementList();
    renderLint(cfg.lint, false);
    setDirty(false);
    byId('mc-save').disabled = false;
    canvasEl.setAttribute('data-ready', 'true');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}());
