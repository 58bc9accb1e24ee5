/**
 * The course page (index.html): runs the echo session on our stack in the browser
 * (src/web/echo-session.ts, virtual time), then plays it back: the log of socket
 * calls, TCP states and frames grows one event at a time, the picture shows the
 * current frame on its subnet, the frame is drawn as nested envelopes, and the
 * time–sequence graph grows with it. Plain DOM, no framework.
 *
 * Settings come from the form, or from the address (?seed=3&loss=10&udp=1&mtu=576
 * &delay=1&jitter=2&message=...), so a run can be shared as a link.
 */

import { SystemClock, systemTimers } from '../time/system.ts';
import {
  checkSettings,
  DEFAULT_SETTINGS,
  type EchoSettings,
  type FrameEvent,
  pyBytes,
  runEchoSession,
  type SessionEvent,
  type SessionTrace,
} from './echo-session.ts';
import { envelopeHtml } from './envelope-html.ts';
import { sequenceGraphSvg } from './graph.ts';
import { Player } from './player.ts';
import { topologySvg } from './topology.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
};
const input = (id: string) => $<HTMLInputElement>(id);

/** What the page is doing, for readers of the DOM (and the tests). */
interface PageStatus {
  trace: SessionTrace | undefined;
  player: Player | undefined;
  /** Milliseconds from the start of the script to the session's first event on screen. */
  firstPaintMs: number | undefined;
  /** Milliseconds the simulation took to run the session. */
  runMs: number | undefined;
}

const status: PageStatus = { trace: undefined, player: undefined, firstPaintMs: undefined, runMs: undefined };
// The viewer's real time, through the host clock and timers the core injects everywhere
// (src/time/system.ts): it paces the playback and times the first paint, nothing else.
const clock = new SystemClock();
const timers = systemTimers;
/** Milliseconds of real time since `since` (an Instant of `clock`). */
const msSince = (since: number): number => (clock.now() - since) / 1000;
const started = clock.now();
/** The frame whose envelopes are shown; undefined = follow the latest. */
let chosen: number | undefined;

/** Saves the run's pcapng (open it in Wireshark, or with `sockstack capture -v FILE`). */
function download(): void {
  const t = status.trace;
  if (!t) return;
  const url = URL.createObjectURL(
    new Blob([t.pcapng as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }),
  );
  const a = document.createElement('a');
  a.href = url;
  a.download = `sockstack-echo-${t.settings.udp ? 'udp' : 'tcp'}-seed${t.settings.seed}.pcapng`;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own copy once it started.
  timers.set(() => URL.revokeObjectURL(url), 60_000);
}

function settingsFromForm(): EchoSettings {
  const transport = document.querySelector<HTMLInputElement>('input[name=transport]:checked')?.value;
  return {
    message: input('message').value,
    udp: transport === 'udp',
    lossPercent: Number(input('loss').value),
    delayMs: Number(input('delay').value),
    jitterMs: Number(input('jitter').value),
    mtu: Number(input('mtu').value),
    seed: Number(input('seed').value),
    ipVersion: 4,
  };
}

/** Fills the form from the address, where it names settings. */
function formFromAddress(): void {
  const q = new URLSearchParams(location.search);
  const set = (id: string, key: string) => {
    const v = q.get(key);
    if (v !== null) input(id).value = v;
  };
  set('message', 'message');
  set('loss', 'loss');
  set('delay', 'delay');
  set('jitter', 'jitter');
  set('mtu', 'mtu');
  set('seed', 'seed');
  if (q.get('udp') === '1') {
    const udp = document.querySelector<HTMLInputElement>('input[name=transport][value=udp]');
    if (udp) udp.checked = true;
  }
}

function timeText(us: number): string {
  return `${(us / 1e6).toFixed(6)} s`;
}

function logItem(e: SessionEvent): HTMLLIElement {
  const li = document.createElement('li');
  const time = document.createElement('span');
  time.className = 'time';
  time.textContent = timeText(e.time);
  li.append(time, ' ');
  if (e.kind === 'call') {
    li.className = `call ${e.who}`;
    const who = document.createElement('strong');
    who.textContent = e.who;
    const code = document.createElement('code');
    code.textContent = e.text;
    li.append(who, ' ▸ ', code);
    if (e.note) {
      const note = document.createElement('span');
      note.className = 'note';
      note.textContent = ` ${e.note}`;
      li.append(note);
    }
  } else if (e.kind === 'state') {
    li.className = 'state';
    li.append(`${e.who} ◆ ${e.from} → ${e.to}`);
  } else {
    li.className = `frame subnet${e.subnet}${e.retransmission && !e.forwarded ? ' retrans' : ''}`;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'frame-button';
    b.dataset.index = String(e.index);
    b.textContent = `#${e.index} ${e.label}`;
    b.addEventListener('click', () => {
      chosen = e.index;
      render();
    });
    const where = document.createElement('span');
    where.className = 'note';
    where.textContent = ` on ${e.subnet === 0 ? '10.0.1.0/24' : '10.0.2.0/24'}: ${e.from} → ${e.to}`;
    li.append(b, where);
  }
  return li;
}

/** Brings the DOM up to date with the player's position. */
function render(): void {
  const { trace, player } = status;
  if (!trace || !player) return;
  const shown = player.visible();
  const log = $('log');
  // The log only grows or shrinks at its end: add or remove the difference.
  while (log.children.length > shown.length) log.lastElementChild?.remove();
  for (let i = log.children.length; i < shown.length; i++) log.append(logItem(shown[i]));
  // Keep the newest line in view (the log scrolls by itself, not the page).
  log.scrollTop = log.scrollHeight;

  const frames = shown.filter((e): e is FrameEvent => e.kind === 'frame');
  if (chosen !== undefined && chosen > frames.length) chosen = undefined;
  const current = chosen !== undefined ? frames[chosen - 1] : frames[frames.length - 1];
  for (const b of log.querySelectorAll<HTMLButtonElement>('.frame-button'))
    b.setAttribute(
      'aria-pressed',
      String(current !== undefined && b.dataset.index === String(current.index)),
    );
  $('envelope').innerHTML = current ? envelopeHtml(current) : 'No frame yet.';

  const states = { client: 'CLOSED', server: 'CLOSED' };
  // The hosts' states as they were when the frame shown was on the wire.
  const upTo = current ? shown.indexOf(current) : shown.length - 1;
  for (const e of shown.slice(0, upTo + 1))
    if (e.kind === 'state' && (e.who === 'client' || e.who === 'server')) states[e.who] = e.to;
  $('topology').innerHTML = topologySvg(states, current);

  if (trace.settings.udp) $('graph').innerHTML = '<p>UDP has no sequence numbers: no graph.</p>';
  else $('graph').innerHTML = sequenceGraphSvg(frames) ?? '<p>No TCP segment yet.</p>';

  const state = player.state;
  document.body.dataset.state = state;
  $('play').textContent = state === 'playing' ? 'Pause' : 'Play';
  $('play').setAttribute('aria-pressed', String(state === 'playing'));
  $('progress').textContent =
    `Event ${shown.length} of ${trace.events.length} · frames shown: ${frames.length} of ${trace.frames.length} · virtual time ${timeText(shown.length ? shown[shown.length - 1].time : 0)}`;
  $('summary').hidden = state !== 'done';
  if (status.firstPaintMs === undefined && shown.length > 0) {
    status.firstPaintMs = msSince(started);
    document.body.dataset.firstPaintMs = String(Math.round(status.firstPaintMs));
  }
}

function renderSummary(t: SessionTrace): void {
  const rows: [string, string][] = [
    [
      'echoed',
      `${pyBytes(new TextEncoder().encode(t.echoed), 60)} (${new TextEncoder().encode(t.echoed).length} bytes)${t.ok ? ', the same bytes the client sent' : ', NOT what the client sent'}`,
    ],
    [
      'frames',
      `${t.frames.length} (${t.frames.filter((f) => f.subnet === 0).length} on 10.0.1.0/24, ${t.frames.filter((f) => f.subnet === 1).length} on 10.0.2.0/24)`,
    ],
    ['retransmissions', String(t.retransmissions)],
    ['virtual time', timeText(t.duration)],
    ['seed', String(t.settings.seed)],
  ];
  if (t.failure) rows.push(['did not finish', t.failure]);
  const dl = $('summary');
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.id = `summary-${k.replace(/\s+/g, '-')}`;
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

// The viewer's time, the only real time on the page: it paces the playback. The network
// itself ran on the Simulation's virtual clock before the first frame was shown.
const schedule = (tick: () => void, ms: number) => {
  let handle: unknown;
  const next = () => {
    handle = timers.set(() => {
      next();
      tick();
    }, ms);
  };
  next();
  return () => timers.clear(handle);
};

async function start(settings: EchoSettings, autoplay: boolean): Promise<void> {
  $('error').textContent = '';
  status.player?.dispose();
  document.body.dataset.state = 'running';
  const t0 = clock.now();
  let trace: SessionTrace;
  try {
    trace = await runEchoSession(checkSettings(settings));
  } catch (e) {
    $('error').textContent = (e as Error).message;
    document.body.dataset.state = 'error';
    return;
  }
  status.runMs = msSince(t0);
  status.trace = trace;
  chosen = undefined;
  $('log').replaceChildren();
  renderSummary(trace);
  document.body.dataset.frames = String(trace.frames.length);
  document.body.dataset.runMs = String(Math.round(status.runMs));
  status.player = new Player(trace.events, schedule, render, Number($<HTMLSelectElement>('speed').value));
  // The first event at once; then one per tick.
  status.player.step();
  if (autoplay) status.player.play();
}

function wire(): void {
  $('settings').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void start(settingsFromForm(), true);
  });
  // Moving through the session shows the newest frame again (a chosen one is let go).
  const move = (f: (p: Player) => void) => () => {
    chosen = undefined;
    if (status.player) f(status.player);
  };
  $('play').addEventListener(
    'click',
    move((p) => p.toggle()),
  );
  $('step').addEventListener(
    'click',
    move((p) => p.step()),
  );
  $('back').addEventListener(
    'click',
    move((p) => p.back()),
  );
  $('end').addEventListener(
    'click',
    move((p) => p.toEnd()),
  );
  $('download').addEventListener('click', download);
  $('speed').addEventListener('change', () =>
    status.player?.setSpeed(Number($<HTMLSelectElement>('speed').value)),
  );
  // Keyboard shortcuts, except while typing in a field (where the keys mean what they always mean).
  document.addEventListener('keydown', (ev) => {
    const t = ev.target as HTMLElement | null;
    if (t && (t.closest('form') || t.tagName === 'SELECT' || ev.altKey || ev.ctrlKey || ev.metaKey)) return;
    const actions: Record<string, () => void> = {
      ' ': move((p) => p.toggle()),
      ArrowRight: move((p) => p.step()),
      ArrowLeft: move((p) => p.back()),
      End: move((p) => p.toEnd()),
    };
    const act = actions[ev.key];
    // Space on a focused button already presses it.
    if (!act || (ev.key === ' ' && t?.tagName === 'BUTTON')) return;
    ev.preventDefault();
    act();
  });
}

wire();
formFromAddress();
const q = new URLSearchParams(location.search);
void start(
  (() => {
    try {
      return settingsFromForm();
    } catch {
      return DEFAULT_SETTINGS;
    }
  })(),
  q.get('autoplay') !== '0',
);
// For a reader at the console (and the tests): the run being shown.
(globalThis as { sockstackPage?: PageStatus }).sockstackPage = status;
