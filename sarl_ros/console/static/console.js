// The operator console page: plain browser JavaScript, no build step, no external files.
'use strict';

const $ = (id) => document.getElementById(id);
let lastImage = -1;
let paused = false;
let estopEngaged = false;

function say(text, isError = false) {
  const box = $('message');
  box.textContent = text;
  box.classList.toggle('error', isError);
}

async function post(path, body = {}) {
  try {
    const reply = await fetch(path, {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) {
      const detail = typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail);
      say(`${reply.status}: ${detail}`, true);
      return null;
    }
    say(data.message || 'done');
    return data;
  } catch (err) {
    say(`no answer from the console: ${err}`, true);
    return null;
  }
}

const commands = {
  success: () => post('/api/outcome', {outcome: 'success'}),
  failure: () => post('/api/outcome', {outcome: 'failure'}),
  reset: () => post('/api/reset/confirm'),
  pause: () => post('/api/pause', {paused: !paused}),
  estop: () => post('/api/estop', {reason: 'operator console'}),
  release: () => {
    if (window.confirm('Release the emergency stop? The arm will accept prompts again.')) {
      return post('/api/estop/release');
    }
    return null;
  },
};

function svg(tag, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// One dot per episode (top: success, bottom: failure) and the running success rate as a line.
function drawCurve(outcomes) {
  const plot = $('curve');
  plot.replaceChildren();
  const top = 8, bottom = 112, left = 30, right = 292;
  const y = (v) => top + (1 - v) * (bottom - top);
  for (const v of [0, 0.5, 1]) {
    plot.append(svg('line', {x1: left, x2: right, y1: y(v), y2: y(v), stroke: '#ddd', 'stroke-width': 1}));
    const label = svg('text', {x: left - 4, y: y(v) + 3, 'text-anchor': 'end'});
    label.textContent = `${Math.round(100 * v)}%`;
    plot.append(label);
  }
  const n = outcomes.length;
  const caption = svg('text', {x: (left + right) / 2, y: 126, 'text-anchor': 'middle'});
  caption.textContent = n ? `episodes 1-${n}: dots success/failure, line success rate so far` : 'no episode yet';
  plot.append(caption);
  if (!n) return;
  const x = (i) => (n === 1 ? (left + right) / 2 : left + 4 + (i * (right - left - 8)) / (n - 1));
  let wins = 0;
  const points = outcomes.map((o, i) => {
    wins += o.success ? 1 : 0;
    return `${x(i).toFixed(1)},${y(wins / (i + 1)).toFixed(1)}`;
  });
  plot.append(svg('polyline', {points: points.join(' '), fill: 'none', stroke: '#3559b5', 'stroke-width': 2,
                               class: 'rate'}));
  outcomes.forEach((o, i) => {
    plot.append(svg('circle', {cx: x(i), cy: y(o.success ? 1 : 0), r: 3, class: o.success ? 'win' : 'loss',
                               fill: o.success ? '#1f7a3a' : '#a8321f'}));
  });
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function render(view) {
  $('task').textContent = view.task || '–';
  $('phase').textContent = view.phase;
  $('episode').textContent = view.episode ? String(view.episode) : '–';
  $('decisions').textContent = `${view.decisions_in_episode} in this episode, ${view.decisions_total} in all`;
  $('successes').textContent = `${view.successes} of ${view.episodes_done} episodes`;
  const l = view.learner;
  $('learner').textContent = l.episodes === undefined ? '–'
    : `${l.transitions} transitions, ${l.updates} updates, TD loss ${l.td_loss}, last 10: ${Math.round(100 * l.recent_success_rate)}%`;
  $('policy').textContent = view.method ? `${view.method}, temperature ${view.temperature.toFixed(2)}` : '';

  const ex = view.executing;
  $('exec-prompt').textContent = ex.prompt || '–';
  $('exec-steps').textContent = String(ex.control_step);
  const bar = $('exec-progress');
  bar.max = Math.max(12, ex.control_step);
  bar.value = ex.control_step;

  const body = $('candidates').tBodies[0];
  body.replaceChildren(...view.candidates.map((c) => {
    const tr = document.createElement('tr');
    if (c.chosen) tr.className = 'chosen';
    tr.append(cell(c.prompt), cell(c.q_value.toFixed(3), 'num'));
    const p = cell('', 'num');
    const b = document.createElement('span');
    b.className = 'bar';
    b.style.width = `${Math.round(40 * c.probability)}px`;
    p.append(b, document.createTextNode(c.probability.toFixed(2)));
    tr.append(p);
    return tr;
  }));

  drawCurve(view.outcomes);

  $('events').replaceChildren(...view.events.map((e) => {
    const li = document.createElement('li');
    li.className = e.kind;
    const t = new Date(e.time * 1000).toLocaleTimeString();
    li.textContent = `${t} episode ${e.episode}: ${e.kind.replace('_', ' ')}${e.detail ? ` (${e.detail})` : ''}`;
    return li;
  }));

  paused = view.paused;
  $('btn-pause').firstChild.textContent = paused ? 'Resume ' : 'Pause after this episode ';
  estopEngaged = view.estop_engaged;
  $('estop-banner').hidden = !estopEngaged;
  document.body.classList.toggle('estopped', estopEngaged);

  if (view.image_seq !== lastImage && view.image_seq > 0) {
    lastImage = view.image_seq;
    $('camera').src = `/api/image.jpg?seq=${view.image_seq}`;
  }
}

function connect() {
  const pill = $('connection');
  const stream = new EventSource('/api/stream');
  stream.onopen = () => { pill.textContent = 'live'; pill.className = 'pill live'; };
  stream.onmessage = (msg) => render(JSON.parse(msg.data));
  stream.onerror = () => { pill.textContent = 'reconnecting…'; pill.className = 'pill lost'; };
}

function bindControls() {
  $('btn-success').onclick = commands.success;
  $('btn-failure').onclick = commands.failure;
  $('btn-reset').onclick = commands.reset;
  $('btn-pause').onclick = commands.pause;
  $('btn-estop').onclick = commands.estop;
  $('btn-release').onclick = commands.release;
  const keys = {s: 'success', f: 'failure', r: 'reset', p: 'pause', e: 'estop', Escape: 'estop', u: 'release'};
  document.addEventListener('keydown', (ev) => {
    if (ev.target.tagName === 'INPUT' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const name = keys[ev.key];
    if (name === undefined || (name === 'release' && !estopEngaged)) return;
    ev.preventDefault();
    commands[name]();
  });
}

async function open() {
  $('token-form').hidden = true;
  $('console').hidden = false;
  bindControls();
  connect();
}

async function main() {
  const auth = await (await fetch('/api/auth', {credentials: 'same-origin'})).json();
  if (!auth.token_required || auth.authorised) {
    open();
    return;
  }
  const form = $('token-form');
  form.hidden = false;
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const reply = await fetch('/api/session', {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({token: $('token').value}), credentials: 'same-origin',
    });
    if (reply.ok) {
      $('token').value = '';
      open();
    } else {
      $('token-error').textContent = 'wrong token';
    }
  };
}

main();
