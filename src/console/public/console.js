// websocket-service console: plain browser JavaScript, no build step. It talks to the service
// that serves it: Socket.IO (the client from <socket path>/socket.io.js) for JOIN, LEAVE, NOTIFY
// and CLIENTS, GET api/state for the live overview, POST /bus-message for the bus. /lobby and
// /trigger are watched read-only: the server lets the console's socket hear, not send, there.
(function () {
  'use strict';

  var root = document.documentElement;
  var SOCKET_PATH = root.dataset.socketPath || '/socket.io';
  var POLL_MS = 1000;
  var POLL_HIDDEN_MS = 5000;
  var MAX_ENTRIES = 500;
  var MAX_CHIPS = 40;
  var MAX_SHOWN_CHARS = 20000; // of one pretty-printed message
  var ROOM_NAMESPACES = ['/layout', '/bus'];
  var WATCH_NAMESPACES = ['/lobby', '/trigger'];
  var TRIGGER_EVENTS = ['EVENTS', 'UPDATES', 'STATUS'];
  var TOKEN_REFUSED = 'unauthorized';

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    conn: $('conn'), connText: $('conn-text'), tokenButton: $('token-button'),
    live: $('live'), liveText: $('live-text'), namespaces: $('namespaces'),
    log: $('log'), logEmpty: $('log-empty'), count: $('event-count'), filter: $('filter'),
    pause: $('pause'), clear: $('clear'), pausedBanner: $('paused-banner'),
    joinForm: $('join-form'), room: $('room'), name: $('name'), roomList: $('room-list'),
    clients: $('clients'), joined: $('joined'), join: $('join'), nameField: $('name-field'), watchNote: $('watch-note'),
    composer: $('composer'),
    sendForm: $('send-form'), message: $('message'), jsonStatus: $('json-status'), format: $('format'),
    send: $('send'), target: $('target'), publishTokenRow: $('publish-token-row'), publishToken: $('publish-token'),
    tokenDialog: $('token-dialog'), tokenForm: $('token-form'), token: $('token'), tokenError: $('token-error'),
    tokenCancel: $('token-cancel'),
  };

  // ---- small helpers ----

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var store = {
    get: function (area, key) { try { return window[area].getItem('ws-console:' + key); } catch (e) { return null; } },
    set: function (area, key, value) { try { window[area].setItem('ws-console:' + key, value); } catch (e) { /* private mode */ } },
  };

  function clock(date) {
    var pad = function (n, w) { return String(n).padStart(w || 2, '0'); };
    return pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds()) + '.' + pad(date.getMilliseconds(), 3);
  }

  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

  /** Pretty-printed JSON as DOM nodes with token classes (text only: never HTML from the wire). */
  function jsonBlock(value) {
    var pre = el('pre', 'json');
    var text = JSON.stringify(value, null, 2);
    if (text === undefined) text = String(value);
    var cut = '';
    if (text.length > MAX_SHOWN_CHARS) {
      cut = '\n… ' + (text.length - MAX_SHOWN_CHARS) + ' more characters';
      text = text.slice(0, MAX_SHOWN_CHARS);
    }
    var pattern = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text))) {
      if (match.index > last) pre.appendChild(document.createTextNode(text.slice(last, match.index)));
      var cls = match[1] ? (match[2] ? 'k' : 's') : match[3] ? 'l' : 'n';
      pre.appendChild(el('span', cls, match[1] || match[0]));
      if (match[2]) pre.appendChild(document.createTextNode(match[2]));
      last = pattern.lastIndex;
    }
    if (last < text.length) pre.appendChild(document.createTextNode(text.slice(last)));
    if (cut) pre.appendChild(el('span', 'cut', cut));
    return pre;
  }

  // ---- the token (when the service requires one) ----

  var token = '';
  (function takeToken() {
    var params = new URLSearchParams(location.search);
    var fromUrl = params.get('token');
    if (fromUrl) {
      store.set('sessionStorage', 'token', fromUrl);
      // Out of the address bar and the history: it is a secret.
      params.delete('token');
      var query = params.toString();
      history.replaceState(null, '', location.pathname + (query ? '?' + query : '') + location.hash);
    }
    token = fromUrl || store.get('sessionStorage', 'token') || '';
  })();

  function askToken(message) {
    els.tokenError.hidden = !message;
    els.tokenError.textContent = message || '';
    if (els.tokenDialog.open) return;
    els.token.value = '';
    els.tokenDialog.showModal();
    els.token.focus();
  }

  els.tokenButton.addEventListener('click', function () { askToken(''); });
  els.tokenCancel.addEventListener('click', function () { els.tokenDialog.close(); });
  els.tokenForm.addEventListener('submit', function () {
    token = els.token.value.trim();
    store.set('sessionStorage', 'token', token);
    tokenRejected = false;
    connect();
    poll();
  });

  // ---- connection status ----

  function setConn(state, text) {
    els.conn.dataset.state = state;
    els.connText.textContent = text;
  }

  // ---- the event log ----

  var entries = [];  // { node, text } newest first, at most MAX_ENTRIES
  var pending = [];  // arrived while paused, oldest first
  var paused = false;
  var filterText = '';

  function matches(entry) {
    return !filterText || entry.text.indexOf(filterText) !== -1;
  }

  function updateCount() {
    var shown = 0;
    for (var i = 0; i < entries.length; i++) if (!entries[i].node.hidden) shown++;
    els.count.textContent = filterText ? shown + ' / ' + entries.length : String(entries.length);
    els.logEmpty.hidden = entries.length > 0;
    if (paused) {
      els.pausedBanner.hidden = false;
      els.pausedBanner.textContent = pending.length
        ? 'Paused: ' + pending.length + (pending.length === 1 ? ' new entry waits' : ' new entries wait') + '. Press Resume (P) to see them.'
        : 'Paused: new entries wait until you resume.';
    } else {
      els.pausedBanner.hidden = true;
    }
  }

  function show(entry, fresh) {
    entry.node.hidden = !matches(entry);
    if (fresh) entry.node.classList.add('fresh');
    els.log.insertBefore(entry.node, els.log.firstChild);
    entries.unshift(entry);
    while (entries.length > MAX_ENTRIES) entries.pop().node.remove();
  }

  /**
   * Adds one line to the log. kind: in (EVENT), out (our NOTIFY), post (POST /bus-message),
   * clients (CLIENTS reply), error, info.
   */
  function addEntry(kind, opts) {
    var now = new Date();
    var node = el('li', 'entry ' + kind);
    node.appendChild(el('time', 'entry-time', clock(now))).dateTime = now.toISOString();
    var head = el('div', 'entry-head');
    head.appendChild(el('span', 'badge', opts.badge || kind));
    if (opts.sender !== undefined) head.appendChild(el('span', 'sender', opts.sender));
    if (opts.room !== undefined) {
      if (opts.sender !== undefined) head.appendChild(el('span', 'arrow', '→'));
      head.appendChild(el('span', 'room-tag', opts.room));
    }
    if (opts.text) head.appendChild(el('span', 'entry-text', opts.text));
    node.appendChild(head);
    var searchable = [kind, opts.badge, opts.sender, opts.room, opts.text];
    if ('message' in opts) {
      var body = el('div', 'entry-body');
      body.appendChild(jsonBlock(opts.message));
      node.appendChild(body);
      searchable.push(JSON.stringify(opts.message));
    }
    var entry = { node: node, text: searchable.filter(Boolean).join(' ').toLowerCase() };
    if (paused) pending.push(entry);
    else show(entry, true);
    updateCount();
    return entry;
  }

  function setPaused(value) {
    paused = value;
    els.pause.setAttribute('aria-pressed', String(paused));
    els.pause.textContent = paused ? 'Resume' : 'Pause';
    els.pause.title = (paused ? 'Resume' : 'Pause') + ' the list (P)';
    if (!paused) {
      pending.splice(0).forEach(function (entry) { show(entry, true); });
    }
    updateCount();
  }

  els.pause.addEventListener('click', function () { setPaused(!paused); });
  els.clear.addEventListener('click', function () {
    entries.splice(0).forEach(function (entry) { entry.node.remove(); });
    pending = [];
    updateCount();
  });
  els.filter.addEventListener('input', function () {
    filterText = els.filter.value.trim().toLowerCase();
    entries.forEach(function (entry) { entry.node.hidden = !matches(entry); });
    updateCount();
  });
  els.filter.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') {
      els.filter.value = '';
      els.filter.dispatchEvent(new Event('input'));
      els.filter.blur();
    }
  });

  // ---- namespace, room, name ----

  function currentNsp() {
    var checked = document.querySelector('input[name="nsp"]:checked');
    return checked ? checked.value : '/layout';
  }
  function setNsp(nsp) {
    var radio = document.querySelector('input[name="nsp"][value="' + nsp + '"]');
    if (radio && !radio.checked) {
      radio.checked = true;
      onNspChange();
    }
  }

  var savedNsp = store.get('localStorage', 'nsp');
  if (ROOM_NAMESPACES.indexOf(savedNsp) !== -1 || WATCH_NAMESPACES.indexOf(savedNsp) !== -1) document.querySelector('input[name="nsp"][value="' + savedNsp + '"]').checked = true;
  els.room.value = store.get('localStorage', 'room') || '';
  els.name.value = store.get('localStorage', 'name') || 'console-' + Math.random().toString(16).slice(2, 6);

  var joinedRooms = [];  // rooms this page's socket is in (or, on /lobby, the lobby it watches)
  var myName = null;     // the name of our last acknowledged JOIN

  /** On /lobby and /trigger the page only watches. */
  function watching() { return WATCH_NAMESPACES.indexOf(currentNsp()) !== -1; }

  function renderWatch() {
    var watch = watching();
    els.nameField.hidden = watch;
    els.name.required = !watch;
    els.clients.hidden = watch;
    els.composer.hidden = watch;
    els.watchNote.hidden = !watch;
    els.join.textContent = watch ? 'Watch' : 'Join';
  }

  function renderJoined() {
    els.joined.textContent = '';
    if (!joinedRooms.length) return;
    els.joined.appendChild(document.createTextNode('In '));
    if (watching()) els.joined.firstChild.textContent = 'Watching ';
    joinedRooms.forEach(function (room) {
      var chip = el('span', 'chip joined-room', room);
      var leave = el('button', '', '×');
      var verb = watching() ? 'Stop watching ' : 'Leave ';
      leave.type = 'button';
      leave.title = verb + room;
      leave.setAttribute('aria-label', verb + room);
      leave.addEventListener('click', function () { leaveRoom(room); });
      chip.appendChild(leave);
      els.joined.appendChild(chip);
    });
    if (!watching()) els.joined.appendChild(document.createTextNode(' as ' + myName));
  }

  function renderTarget() {
    var room = els.room.value.trim();
    var code = el('code', '', room || 'ROOM');
    els.target.textContent = '';
    if (mode() === 'post') {
      els.target.appendChild(document.createTextNode('POST /bus-message/'));
      els.target.appendChild(code);
      els.target.appendChild(document.createTextNode(': every /bus socket in the room gets it, sender "POST".'));
    } else {
      els.target.appendChild(document.createTextNode('To everyone else in '));
      els.target.appendChild(code);
      els.target.appendChild(document.createTextNode(' on ' + currentNsp() + ', from ' + (myName ? '"' + myName + '"' : '"unknown" (join to set a name)') + '.'));
    }
  }

  function onNspChange() {
    store.set('localStorage', 'nsp', currentNsp());
    if (joinedRooms.length) addEntry('info', { badge: 'info', text: 'Left ' + joinedRooms.join(', ') + ' (switched to ' + currentNsp() + ')' });
    joinedRooms = [];
    myName = null;
    renderWatch();
    renderJoined();
    connect();
    renderTarget();
    renderRoomList();
    if (lastState) renderState(lastState);
  }
  document.querySelectorAll('input[name="nsp"]').forEach(function (radio) {
    radio.addEventListener('change', onNspChange);
  });
  els.room.addEventListener('input', function () {
    els.room.removeAttribute('aria-invalid');
    store.set('localStorage', 'room', els.room.value.trim());
    renderTarget();
  });
  els.name.addEventListener('input', function () {
    els.name.removeAttribute('aria-invalid');
    store.set('localStorage', 'name', els.name.value.trim());
  });

  function requireRoom() {
    var room = els.room.value.trim();
    if (!room) {
      els.room.setAttribute('aria-invalid', 'true');
      els.room.focus();
    }
    return room;
  }

  // ---- the page's Socket.IO connection ----

  var socket = null;
  var tokenRejected = false;

  function connect() {
    if (socket) {
      socket.removeAllListeners();
      socket.io.removeAllListeners && socket.io.removeAllListeners();
      socket.disconnect();
      socket = null;
    }
    if (typeof window.io !== 'function') {
      setConn('error', 'Socket.IO client did not load');
      return;
    }
    var nsp = currentNsp();
    // A lobby is chosen in the handshake: the page connects once it knows which one to watch.
    if (nsp === '/lobby' && !joinedRooms.length) {
      setConn('ok', 'Choose a lobby to watch');
      return;
    }
    setConn('busy', 'Connecting to ' + nsp + '…');
    // As the console, with its token: the page observes rooms, it is not listed as one of their clients.
    var options = { path: SOCKET_PATH, forceNew: true, auth: { token: token, console: true } };
    if (nsp === '/lobby') options.query = { lobbyId: joinedRooms[0] };
    socket = window.io(nsp, options);

    socket.on('connect', function () {
      tokenRejected = false;
      setConn('ok', 'Connected · ' + nsp);
      // The server forgets rooms on disconnect: after a reconnection, be where we were.
      if (nsp === '/trigger' && joinedRooms.length) {
        joinedRooms.forEach(function (room) { socket.emit('JOIN', room); });
      } else if (joinedRooms.length && myName) {
        joinedRooms.forEach(function (room) { socket.emit('JOIN', JSON.stringify({ room: room, name: myName })); });
        addEntry('info', { badge: 'info', text: 'Reconnected: joined ' + joinedRooms.join(', ') + ' again' });
      }
    });
    socket.on('disconnect', function (reason) {
      setConn('error', 'Disconnected: ' + reason);
      if (reason === 'io server disconnect') setTimeout(function () { if (socket) socket.connect(); }, 1000);
    });
    socket.on('connect_error', function (error) {
      var message = (error && error.message) || String(error);
      if (message.indexOf(TOKEN_REFUSED) === 0) {
        tokenRejected = true;
        setConn('error', token ? 'Token refused' : 'Token required');
        askToken(token ? 'The service refused this token.' : '');
      } else {
        setConn('error', 'Cannot connect: ' + message);
      }
    });
    socket.on('EVENT', function (event) {
      event = event || {};
      addEntry('in', { badge: 'event', sender: String(event.sender), room: String(event.room), message: event.message });
    });
    socket.on('CLIENTS', function (reply) {
      reply = reply || {};
      var names = Array.isArray(reply.clients) ? reply.clients : [];
      addEntry('clients', {
        badge: 'clients', room: String(reply.room),
        text: names.length ? plural(names.length, 'client') + ': ' + names.join(', ') : 'nobody in the room',
      });
    });
    socket.on('PEERS', function (peers) {
      peers = Array.isArray(peers) ? peers : [];
      addEntry('clients', { badge: 'peers', room: joinedRooms[0], text: peers.length ? plural(peers.length, 'peer') + ': ' + peers.join(', ') : 'nobody in the lobby' });
    });
    socket.on('JOINED', function (id) { addEntry('info', { badge: 'joined', room: joinedRooms[0], text: String(id) }); });
    socket.on('LEFT', function (id) { addEntry('info', { badge: 'left', room: joinedRooms[0], text: String(id) }); });
    socket.on('MESSAGE', function (event) {
      event = event || {};
      addEntry('in', { badge: 'message', sender: String(event.from), room: joinedRooms[0], message: event.message });
    });
    TRIGGER_EVENTS.forEach(function (name) {
      socket.on(name, function (data) { addEntry('in', { badge: name.toLowerCase(), message: data }); });
    });
    socket.on('ERROR', function (error) {
      error = error || {};
      addEntry('error', { badge: 'error', text: (error.event ? error.event + ' refused: ' : '') + (error.message || 'refused') });
    });
  }

  /** Watching: a lobby by connecting to it, a /trigger room by joining it (which nobody sees). */
  function watchRoom(room) {
    if (currentNsp() === '/lobby') {
      joinedRooms = [room];
      connect();
      addEntry('info', { badge: 'watching', room: room });
      renderJoined();
      return;
    }
    if (!socket) return;
    socket.timeout(5000).emit('JOIN', room, function (error) {
      if (error) {
        addEntry('error', { badge: 'error', room: room, text: 'JOIN was not acknowledged' });
        return;
      }
      if (joinedRooms.indexOf(room) === -1) joinedRooms.push(room);
      addEntry('info', { badge: 'watching', room: room });
      renderJoined();
      poll();
    });
  }

  function unwatchRoom(room) {
    if (currentNsp() === '/lobby') {
      joinedRooms = [];
      connect();
      addEntry('info', { badge: 'left', room: room });
      renderJoined();
      return;
    }
    if (!socket) return;
    socket.timeout(5000).emit('LEAVE', room, function (error) {
      if (error) {
        addEntry('error', { badge: 'error', room: room, text: 'LEAVE was not acknowledged' });
        return;
      }
      joinedRooms = joinedRooms.filter(function (r) { return r !== room; });
      addEntry('info', { badge: 'left', room: room });
      renderJoined();
      poll();
    });
  }

  function joinRoom() {
    var room = requireRoom();
    if (room && watching()) return watchRoom(room);
    var name = els.name.value.trim();
    if (!name) {
      els.name.setAttribute('aria-invalid', 'true');
      els.name.focus();
    }
    if (!room || !name || !socket) return;
    socket.timeout(5000).emit('JOIN', JSON.stringify({ room: room, name: name }), function (error) {
      if (error) {
        addEntry('error', { badge: 'error', room: room, text: 'JOIN was not acknowledged' });
        return;
      }
      myName = name;
      if (joinedRooms.indexOf(room) === -1) joinedRooms.push(room);
      addEntry('info', { badge: 'joined', room: room, text: 'as ' + name });
      renderJoined();
      renderTarget();
      poll();
    });
  }

  function leaveRoom(room) {
    if (watching()) return unwatchRoom(room);
    if (!socket) return;
    socket.timeout(5000).emit('LEAVE', JSON.stringify({ room: room }), function (error) {
      if (error) {
        addEntry('error', { badge: 'error', room: room, text: 'LEAVE was not acknowledged' });
        return;
      }
      joinedRooms = joinedRooms.filter(function (r) { return r !== room; });
      addEntry('info', { badge: 'left', room: room });
      renderJoined();
      poll();
    });
  }

  els.joinForm.addEventListener('submit', function (event) {
    event.preventDefault();
    joinRoom();
  });
  els.clients.addEventListener('click', function () {
    var room = requireRoom();
    if (room && socket) socket.emit('CLIENTS', JSON.stringify({ room: room }));
  });

  // ---- sending: NOTIFY or POST /bus-message ----

  function mode() {
    var checked = document.querySelector('input[name="mode"]:checked');
    return checked ? checked.value : 'notify';
  }

  /** { ok, value } or { ok: false, error } for the message box. */
  function parseMessage() {
    var text = els.message.value;
    if (!text.trim()) return { ok: false, error: 'Message is empty: write a JSON value, e.g. {"a": 1}, "text" or null' };
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      var message = String(error.message || error);
      var at = /position (\d+)/.exec(message);
      if (at && !/line \d+/.test(message)) {
        var before = text.slice(0, Number(at[1])).split('\n');
        message += ' (line ' + before.length + ', column ' + (before[before.length - 1].length + 1) + ')';
      }
      return { ok: false, error: message };
    }
  }

  function describe(value) {
    if (value === null) return 'null';
    if (Array.isArray(value)) return 'array of ' + value.length;
    if (typeof value === 'object') return 'object, ' + plural(Object.keys(value).length, 'key');
    return typeof value;
  }

  function validate() {
    var parsed = parseMessage();
    els.jsonStatus.className = 'json-status ' + (parsed.ok ? 'ok' : 'bad');
    els.jsonStatus.textContent = parsed.ok ? '✓ Valid JSON · ' + describe(parsed.value) : '✕ ' + parsed.error;
    els.message.setAttribute('aria-invalid', String(!parsed.ok));
    els.send.disabled = !parsed.ok;
    els.format.disabled = !parsed.ok;
    return parsed;
  }

  function renderMode() {
    els.send.textContent = mode() === 'post' ? 'POST to bus' : 'Send NOTIFY';
    renderTarget();
  }
  document.querySelectorAll('input[name="mode"]').forEach(function (radio) {
    radio.addEventListener('change', renderMode);
  });

  els.message.addEventListener('input', validate);
  els.message.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      els.sendForm.requestSubmit();
    }
  });
  els.format.addEventListener('click', function () {
    var parsed = validate();
    if (parsed.ok) els.message.value = JSON.stringify(parsed.value, null, 2);
  });

  function publish(room, text, message) {
    var headers = { 'Content-Type': 'application/json' };
    var publishToken = els.publishToken.value.trim();
    if (publishToken) headers.Authorization = 'Bearer ' + publishToken;
    var path = 'POST /bus-message/' + room;
    fetch('../bus-message/' + encodeURIComponent(room), { method: 'POST', headers: headers, body: text })
      .then(function (response) {
        return response.text().then(function (body) {
          if (response.ok) {
            addEntry('post', { badge: 'post', room: room, text: response.status + ' ' + (body || 'OK'), message: message });
            return;
          }
          if (response.status === 401) {
            els.publishTokenRow.hidden = false;
            els.publishToken.focus();
          }
          addEntry('error', { badge: 'error', text: path + ' → ' + response.status + ' ' + body });
        });
      })
      .catch(function (error) {
        addEntry('error', { badge: 'error', text: path + ' failed: ' + error.message });
      });
  }

  els.sendForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var parsed = validate();
    if (!parsed.ok) {
      els.message.focus();
      return;
    }
    var room = requireRoom();
    if (!room) return;
    if (mode() === 'post') {
      publish(room, els.message.value, parsed.value);
      return;
    }
    if (!socket) return;
    socket.emit('NOTIFY', JSON.stringify({ room: room, message: parsed.value }));
    addEntry('out', { badge: 'notify', sender: myName || 'unknown', room: room, message: parsed.value });
  });

  // ---- live overview: GET api/state every second ----

  var lastState = null;
  var lastStateText = '';
  var pollTimer = null;
  var polling = false;

  function poll() {
    clearTimeout(pollTimer);
    if (polling) return;
    polling = true;
    var headers = token ? { Authorization: 'Bearer ' + token } : {};
    fetch('api/state', { headers: headers, cache: 'no-store' })
      .then(function (response) {
        if (response.status === 401) {
          els.live.dataset.state = 'error';
          els.liveText.textContent = 'Token required';
          lastState = null;
          lastStateText = '';
          els.namespaces.textContent = '';
          els.namespaces.appendChild(el('p', 'ns-empty locked', 'The overview needs the console token: use the Token button at the top.'));
          if (!tokenRejected) askToken(token ? 'The service refused this token.' : '');
          tokenRejected = true;
          return 'stop';
        }
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json().then(function (state) {
          els.live.dataset.state = 'ok';
          els.liveText.textContent = 'Live';
          els.live.title = 'Updated ' + clock(new Date(state.time)) + '; refreshed every second from the whole cluster';
          // Redraw only when something shown changed: keeps focus and scroll still.
          var text = JSON.stringify([state.namespaces, currentNsp(), joinedRooms, myName]);
          if (text !== lastStateText) {
            lastStateText = text;
            lastState = state;
            renderState(state);
            renderRoomList();
          }
        });
      })
      .catch(function () {
        els.live.dataset.state = 'error';
        els.liveText.textContent = 'Offline, retrying';
      })
      .then(function (result) {
        polling = false;
        if (result !== 'stop') pollTimer = setTimeout(poll, document.hidden ? POLL_HIDDEN_MS : POLL_MS);
      });
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) poll();
  });

  function renderRoomList() {
    els.roomList.textContent = '';
    if (!lastState) return;
    lastState.namespaces.forEach(function (ns) {
      if (ns.name !== currentNsp()) return;
      ns.rooms.forEach(function (room) {
        var option = el('option');
        option.value = room.name;
        els.roomList.appendChild(option);
      });
    });
  }

  function useRoom(nsp, room) {
    setNsp(nsp);
    els.room.value = room;
    els.room.dispatchEvent(new Event('input'));
    document.getElementById('join').focus();
  }

  function memberChip(member) {
    var chip;
    if (member.name !== null && member.name !== undefined) {
      chip = el('span', 'chip', member.name);
      chip.title = member.name + ' (' + member.id + ')';
    } else {
      var shortId = member.id.replace(/^\/[^#]*#/, '').slice(0, 8);
      chip = el('span', 'chip mono', '#' + shortId);
      chip.title = member.id;
    }
    return chip;
  }

  function renderState(state) {
    // Keep keyboard focus on the same room button across a redraw.
    var focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
    var frag = document.createDocumentFragment();
    state.namespaces.forEach(function (ns) {
      var card = el('section', 'ns');
      card.dataset.nsp = ns.name;
      var head = el('div', 'ns-head');
      head.appendChild(el('span', 'ns-name', ns.name));
      var count = el('span', 'ns-count');
      count.appendChild(el('b', '', String(ns.connections)));
      count.appendChild(document.createTextNode(ns.connections === 1 ? ' connection' : ' connections'));
      head.appendChild(count);
      card.appendChild(head);
      if (ns.partial) card.appendChild(el('div', 'ns-warn', 'Other nodes did not answer: this node only'));
      var interactive = ROOM_NAMESPACES.indexOf(ns.name) !== -1 || WATCH_NAMESPACES.indexOf(ns.name) !== -1;
      if (!ns.rooms.length) {
        card.appendChild(el('div', 'ns-empty', 'No rooms'));
      } else {
        var list = el('ul', 'rooms');
        ns.rooms.forEach(function (room) {
          var item = el('li', 'room');
          item.dataset.room = room.name;
          if (ns.name === currentNsp() && joinedRooms.indexOf(room.name) !== -1) item.classList.add('current');
          var roomHead = el('div', 'room-head');
          var name;
          if (interactive) {
            name = el('button', 'room-name', room.name);
            name.type = 'button';
            name.title = 'Use ' + room.name + ' on ' + ns.name;
            name.dataset.key = ns.name + ' ' + room.name; // namespace names have no spaces
            name.addEventListener('click', function () { useRoom(ns.name, room.name); });
          } else {
            name = el('span', 'room-name', room.name);
          }
          roomHead.appendChild(name);
          roomHead.appendChild(el('span', 'room-count', plural(room.size, 'member')));
          item.appendChild(roomHead);
          var members = el('div', 'members');
          room.members.slice(0, MAX_CHIPS).forEach(function (member) {
            members.appendChild(memberChip(member));
          });
          var shown = Math.min(room.members.length, MAX_CHIPS);
          if (room.size > shown) members.appendChild(el('span', 'chip mono', '+' + (room.size - shown) + ' more'));
          item.appendChild(members);
          list.appendChild(item);
        });
        card.appendChild(list);
      }
      frag.appendChild(card);
    });
    els.namespaces.textContent = '';
    els.namespaces.appendChild(frag);
    if (focused) {
      var again = els.namespaces.querySelector('[data-key="' + CSS.escape(focused) + '"]');
      if (again) again.focus();
    }
  }

  // ---- keyboard ----

  document.addEventListener('keydown', function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (typing || els.tokenDialog.open) return;
    if (event.key === '/') {
      event.preventDefault();
      els.filter.focus();
    } else if (event.key === 'p' || event.key === 'P') {
      setPaused(!paused);
    }
  });

  // ---- start ----

  validate();
  renderWatch();
  renderMode();
  renderJoined();
  updateCount();
  connect();
  poll();
})();
