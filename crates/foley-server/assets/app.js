// The page of `foley serve`: uploads a video as a job, follows it over server-sent events (polling
// if the stream fails), plays the result and lists recent jobs. Plain JS: the binary embeds it as is.
'use strict';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'foley.token';
const DURATION_HINT = $('duration').placeholder;
let current = null; // id of the job shown
let follow = null; // how it is followed: an EventSource, or a polling loop with the same close()

const token = () => localStorage.getItem(TOKEN_KEY) || '';

// <video src>, <img src>, links and EventSource cannot send headers: the token goes in the query.
function withToken(url) {
  const t = token();
  return t ? url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(t) : url;
}

// fetch with the token as a header; a failure becomes an Error carrying the server's own message.
async function api(method, path, body) {
  const headers = token() ? { Authorization: 'Bearer ' + token() } : {};
  let res;
  try {
    res = await fetch(path, { method, headers, body });
  } catch (e) {
    throw new Error('Cannot reach the server (' + e.message + ').');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch (_) {
    // Not JSON (a proxy's page, say): the text itself is reported.
  }
  if (res.ok) return data;
  let message = (data && data.error) || text.trim() || res.status + ' ' + res.statusText;
  if (res.status === 401) message += ' (enter the API token at the top of the page)';
  throw new Error(message);
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

function clearError() {
  $('error').textContent = '';
  $('error').hidden = true;
}

// A small element builder: attributes, then children (strings become text, never HTML).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

const seconds = (s) => (Math.round(s * 100) / 100).toString() + ' s';

function describe(rec) {
  switch (rec.state) {
    case 'queued':
      // queue_position counts the jobs ahead.
      if (rec.queue_position == null) return 'waiting';
      return rec.queue_position === 0 ? 'next in line' : 'waiting, ' + rec.queue_position + ' ahead';
    case 'running': {
      const windows = rec.windows_total ? ', window ' + rec.windows_done + ' of ' + rec.windows_total : '';
      return (rec.stage || 'starting') + windows;
    }
    case 'done': {
      const took = rec.finished && rec.started ? ' in ' + seconds(rec.finished - rec.started) : '';
      return (rec.duration != null ? seconds(rec.duration) + ' of sound' : 'finished') + took;
    }
    default:
      return rec.error || '';
  }
}

function render(rec) {
  if (rec.id !== current) return;
  $('state').textContent = rec.state;
  $('state').dataset.state = rec.state;
  $('stage').textContent = describe(rec);
  $('progress').value = rec.state === 'done' ? 1 : rec.progress || 0;
  if (rec.state === 'failed') showError(rec.error || 'The job failed.');
  if (rec.state === 'done' && rec.results && $('done').hidden) {
    const r = rec.results;
    $('result').src = withToken(r.mp4);
    $('mel').src = withToken(r.mel);
    $('dl-mp4').href = withToken(r.mp4);
    $('dl-wav').href = withToken(r.wav);
    $('done').hidden = false;
  }
  if (rec.state === 'done' || rec.state === 'failed') {
    stopFollowing();
    refreshJobs();
  }
}

function stopFollowing() {
  if (follow) follow.close();
  follow = null;
}

function poll(id) {
  let timer = 0;
  let stopped = false;
  follow = {
    close() {
      stopped = true;
      clearTimeout(timer);
    },
  };
  const tick = async () => {
    try {
      render(await api('GET', '/api/jobs/' + id));
    } catch (e) {
      showError(e.message);
      return;
    }
    if (!stopped) timer = setTimeout(tick, 1000);
  };
  tick();
}

// Shows job `id` and follows it until it is done or failed.
function show(id) {
  stopFollowing();
  current = id;
  $('idle').hidden = true;
  $('status').hidden = false;
  $('job').dataset.id = id;
  $('done').hidden = true;
  $('result').removeAttribute('src');
  $('mel').removeAttribute('src');
  $('state').textContent = 'submitted';
  $('state').dataset.state = 'queued';
  $('stage').textContent = '';
  $('progress').value = 0;
  if (!window.EventSource) return poll(id);
  const es = new EventSource(withToken('/api/jobs/' + id + '/events'));
  follow = es;
  es.addEventListener('job', (ev) => render(JSON.parse(ev.data)));
  // A stream that breaks before the end (a proxy, a restart): poll instead of reconnecting.
  es.onerror = () => {
    if (follow !== es) return;
    es.close();
    poll(id);
  };
}

function hideJob(id) {
  if (current !== id) return;
  stopFollowing();
  current = null;
  delete $('job').dataset.id;
  $('status').hidden = true;
  $('idle').hidden = false;
}

function jobItem(rec) {
  const li = el('li', { 'data-id': rec.id, 'data-state': rec.state });
  const pct = rec.state === 'running' ? ' ' + Math.round((rec.progress || 0) * 100) + ' %' : '';
  li.append(el('span', { class: 'badge', 'data-state': rec.state }, rec.state + pct));
  const prompt = rec.options && rec.options.prompt;
  const open = el('button', { type: 'button', class: 'link', title: 'Show this job' }, prompt ? '“' + prompt + '”' : 'job ' + rec.id.slice(0, 8));
  open.addEventListener('click', () => {
    clearError();
    show(rec.id);
  });
  li.append(open);
  if (rec.created) li.append(el('time', {}, new Date(rec.created * 1000).toLocaleTimeString()));
  if (rec.state === 'done' && rec.results) {
    // The server names the downloads (Content-Disposition).
    li.append(el('a', { href: withToken(rec.results.mp4), download: '' }, 'mp4'));
    li.append(el('a', { href: withToken(rec.results.wav), download: '' }, 'wav'));
  }
  const del = el('button', { type: 'button', class: 'small danger', 'aria-label': 'Delete job ' + rec.id }, 'Delete');
  del.addEventListener('click', async () => {
    try {
      await api('DELETE', '/api/jobs/' + rec.id);
      hideJob(rec.id);
    } catch (e) {
      showError(e.message);
    }
    refreshJobs();
  });
  li.append(del);
  return li;
}

async function refreshJobs() {
  let jobs;
  try {
    jobs = (await api('GET', '/api/jobs')).jobs;
  } catch (e) {
    $('jobs').replaceChildren();
    $('jobs-empty').textContent = 'Recent jobs could not be listed: ' + e.message;
    $('jobs-empty').hidden = false;
    return;
  }
  $('jobs').replaceChildren(...jobs.map(jobItem));
  $('jobs-empty').textContent = 'No jobs yet.';
  $('jobs-empty').hidden = jobs.length > 0;
}

// A local preview of the chosen file (a blob: URL, never uploaded twice); its length as the hint.
function chosen() {
  const f = $('video').files[0];
  const preview = $('preview');
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.hidden = !f;
  $('duration').placeholder = DURATION_HINT;
  if (!f) return preview.removeAttribute('src');
  preview.src = URL.createObjectURL(f);
}
$('preview').addEventListener('loadedmetadata', (e) => {
  if (Number.isFinite(e.target.duration)) $('duration').placeholder = DURATION_HINT + ' (' + seconds(e.target.duration) + ')';
});
$('preview').addEventListener('error', () => {
  $('preview').hidden = true;
});

$('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  const file = $('video').files[0];
  if (!file) return showError('Choose a video first.');
  const form = new FormData();
  // Only what was filled in: the server applies the model's defaults to the rest.
  for (const field of $('form').elements) {
    if (!field.name || field.type === 'file') continue;
    if (field.type === 'checkbox') {
      if (field.checked) form.append(field.name, 'true');
    } else if (field.value.trim() !== '') {
      form.append(field.name, field.value.trim());
    }
  }
  form.append('video', file, file.name);
  $('generate').disabled = true;
  try {
    const { id } = await api('POST', '/api/jobs', form);
    show(id);
    refreshJobs();
  } catch (e) {
    showError(e.message);
  } finally {
    $('generate').disabled = false;
  }
});

const drop = $('drop');
for (const type of ['dragenter', 'dragover']) {
  drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
}
for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  if (!e.dataTransfer.files.length) return;
  $('video').files = e.dataTransfer.files;
  chosen();
});
// A file dropped beside the zone must not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());
$('video').addEventListener('change', chosen);

$('token').value = token();
$('token').addEventListener('change', () => {
  const t = $('token').value.trim();
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
  refreshJobs();
});
$('refresh').addEventListener('click', refreshJobs);

// The placeholders show the shipped generator's defaults; MMAudio's differ.
fetch('/healthz')
  .then((res) => res.json())
  .then((health) => {
    if (!String(health.model).startsWith('mmaudio:')) return;
    document.querySelector('[name=steps]').placeholder = '25';
    document.querySelector('[name=cfg]').placeholder = '4.5';
  })
  .catch(() => {});

refreshJobs();
setInterval(() => {
  if (!document.hidden) refreshJobs();
}, 5000);
