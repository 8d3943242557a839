// The operator console page: plain browser JavaScript, no build step, no external files.
'use strict';

const $ = (id) => document.getElementById(id);
let lastImage = -1;
let paused = false;
let estopEngaged = false;
let connected = false;
let view = null; // the last snapshot
let demonstrating = false; // demonstrate mode: the operator chooses the next decision's prompt
const WINDOW = 10; // episodes in the moving success rate

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
    setConnected(false);
    say('no answer from the console: the connection is lost, this page cannot reach the arm', true);
    return null;
  }
}

// The button each key presses; a key whose button is disabled does nothing but say why.
const buttons = {success: 'btn-success', failure: 'btn-failure', reset: 'btn-reset', pause: 'btn-pause',
                 correct: 'btn-correct', demo: 'btn-demo', estop: 'btn-estop', release: 'btn-release'};

function lastOutcome() {
  if (!view || view.correctable === null) return null;
  const row = view.history.find((h) => h.episode === view.correctable);
  return row ? row.outcome : null;
}

const commands = {
  success: () => post('/api/outcome', {outcome: 'success'}),
  failure: () => post('/api/outcome', {outcome: 'failure'}),
  reset: () => post('/api/reset/confirm'),
  pause: () => post('/api/pause', {paused: !paused}),
  estop: () => post('/api/estop', {reason: 'operator console'}),
  release: () => {
    if (window.confirm('Release the emergency stop? The arm will accept prompts again.')) {
      return post('/api/estop/release', {confirm: 'release'});
    }
    return null;
  },
  demo: () => {
    demonstrating = !demonstrating;
    document.body.classList.toggle('demonstrating', demonstrating);
    $('btn-demo').setAttribute('aria-pressed', String(demonstrating));
    say(demonstrating ? 'demonstrate: choose the prompt of the next decision' : 'the policy chooses again');
    if (view) render(view);
    return null;
  },
  demonstrate: (prompt, typed) => post('/api/demonstrate', {prompt, typed}),
  correct: () => {
    const episode = view ? view.correctable : null;
    if (episode === null) return null;
    const to = lastOutcome() === 'success' ? 'failure' : 'success';
    return post('/api/outcome/correct', {episode, outcome: to});
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
  caption.textContent = n ? `${n} episodes · blue: so far · orange: last ${WINDOW}` : 'no episode yet';
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
  // The success rate over the last WINDOW episodes: how the learner does now, not since the start.
  const recent = outcomes.map((o, i) => {
    const last = outcomes.slice(Math.max(0, i - WINDOW + 1), i + 1);
    const rate = last.filter((e) => e.success).length / last.length;
    return `${x(i).toFixed(1)},${y(rate).toFixed(1)}`;
  });
  plot.append(svg('polyline', {points: recent.join(' '), fill: 'none', stroke: '#d4781c', 'stroke-width': 2,
                               'stroke-dasharray': '4 3', class: 'window'}));
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

function since(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const wait = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  const t = new Date(seconds * 1000).toLocaleTimeString();
  return wait < 120 ? `waiting since ${t} (${wait} s)` : `waiting since ${t} (${Math.round(wait / 60)} min)`;
}

function renderNeeds() {
  const needs = view && connected ? view.needs : null;
  $('needs').hidden = !needs;
  document.body.classList.toggle('needs-you', !!needs);
  if (!needs) return;
  $('needs').dataset.what = needs.what;
  $('needs-text').textContent = needs.text;
  $('needs-keys').textContent = needs.keys;
  $('needs-since').textContent = since(needs.since);
}

// Only the buttons that apply now are enabled; none while the page is disconnected.
function renderButtons() {
  const v = view || {running: false, needs: null, correctable: null};
  const waitingFor = v.needs ? v.needs.what : '';
  const enabled = {
    success: v.running || waitingFor === 'verdict',
    failure: v.running || waitingFor === 'verdict',
    reset: waitingFor === 'reset',
    pause: true,
    correct: v.correctable !== null,
    demo: v.running || demonstrating,
    estop: true,
    release: estopEngaged,
  };
  for (const [name, id] of Object.entries(buttons)) $(id).disabled = !connected || !enabled[name];
  const last = lastOutcome();
  $('btn-correct').firstChild.textContent = last && v.correctable !== null
    ? `Episode ${v.correctable} was a ${last === 'success' ? 'failure' : 'success'} `
    : 'Correct the last verdict ';
  $('btn-estop').firstChild.textContent = connected ? 'EMERGENCY STOP ' : 'E-STOP UNAVAILABLE (disconnected) ';
}

function setConnected(live) {
  connected = live;
  const pill = $('connection');
  pill.textContent = live ? 'live' : 'CONNECTION LOST';
  pill.className = live ? 'pill live' : 'pill lost';
  $('lost-banner').hidden = live;
  document.body.classList.toggle('disconnected', !live);
  renderNeeds();
  renderButtons();
}

let shownHistory = '';
function renderHistory(rows) {
  const key = JSON.stringify(rows);
  if (key === shownHistory) return; // unchanged: keep the rows (and their images) as they are
  shownHistory = key;
  $('history').tBodies[0].replaceChildren(...rows.map((h) => {
    const tr = document.createElement('tr');
    tr.className = h.outcome;
    const prompts = h.prompts || [];
    let who = h.decided_by || '–';
    if (h.corrected && !who.includes('corrected')) who += ' (corrected)';
    const seconds = h.seconds === undefined ? '' : Number(h.seconds).toFixed(0);
    tr.append(cell(String(h.episode), 'num'), cell(h.outcome), cell(who),
              cell(String(h.decisions ?? prompts.length), 'num'), cell(seconds, 'num'), cell(prompts.join(' → ')));
    const strip = cell('', 'strip');
    for (const name of h.frames || []) {
      const img = document.createElement('img');
      img.src = `/api/frames/${encodeURIComponent(name)}`;
      img.alt = `episode ${h.episode}, frame ${name.slice(-6, -4)}`;
      img.loading = 'lazy';
      strip.append(img);
    }
    tr.append(strip);
    return tr;
  }));
}

function render(snapshot) {
  view = snapshot;
  $('task').textContent = view.task || '–';
  $('phase').textContent = view.phase;
  $('episode').textContent = view.episode ? String(view.episode) : '–';
  $('decisions').textContent = `${view.decisions_in_episode} in this episode, ${view.decisions_total} in all`;
  $('successes').textContent = `${view.successes} of ${view.episodes_done} episodes`
    + (view.aborted ? ` (${view.aborted} aborted, not counted)` : '');
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
    const use = document.createElement('td');
    use.className = 'demo-only';
    const pick = document.createElement('button');
    pick.type = 'button';
    pick.className = 'use';
    pick.textContent = 'Use';
    pick.disabled = !connected || !view.running;
    pick.onclick = () => commands.demonstrate(c.prompt, false);
    use.append(pick);
    tr.append(use);
    return tr;
  }));

  drawCurve(view.outcomes);
  renderHistory(view.history);

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
  renderNeeds();
  renderButtons();

  if (view.image_seq !== lastImage && view.image_seq > 0) {
    lastImage = view.image_seq;
    $('camera').src = `/api/image.jpg?seq=${view.image_seq}`;
  }
}

function connect() {
  const stream = new EventSource('/api/stream');
  stream.onopen = () => setConnected(true);
  stream.onmessage = (msg) => {
    if (!connected) setConnected(true);
    render(JSON.parse(msg.data));
  };
  stream.onerror = () => setConnected(false); // the browser keeps trying to reconnect
  setInterval(renderNeeds, 1000); // "waiting since" keeps counting
}

function bindControls() {
  $('btn-success').onclick = commands.success;
  $('btn-failure').onclick = commands.failure;
  $('btn-reset').onclick = commands.reset;
  $('btn-pause').onclick = commands.pause;
  $('btn-estop').onclick = commands.estop;
  $('btn-release').onclick = commands.release;
  $('btn-correct').onclick = commands.correct;
  $('btn-demo').onclick = commands.demo;
  $('demo-form').onsubmit = (ev) => {
    ev.preventDefault();
    const prompt = $('demo-prompt').value.trim();
    if (prompt) commands.demonstrate(prompt, true);
  };
  const keys = {s: 'success', f: 'failure', r: 'reset', p: 'pause', c: 'correct', d: 'demo', e: 'estop',
                Escape: 'estop', u: 'release'};
  document.addEventListener('keydown', (ev) => {
    if (ev.target.tagName === 'INPUT' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const name = keys[ev.key];
    if (name === undefined) return;
    ev.preventDefault();
    if ($(buttons[name]).disabled) {
      const why = connected ? `"${ev.key}" does not apply now` : 'the connection is lost: this page cannot reach the arm';
      say(why, true);
      return;
    }
    commands[name]();
  });
}

async function open() {
  $('token-form').hidden = true;
  $('console').hidden = false;
  setConnected(false);
  $('lost-banner').hidden = true; // not lost: not connected yet
  $('connection').textContent = 'connecting…';
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
