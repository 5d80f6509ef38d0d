// Trades an admin key for the dashboard's HttpOnly session cookie, then opens the dashboard.
document.getElementById('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const error = document.getElementById('login-error');
  error.hidden = true;
  const key = document.getElementById('key').value.trim();
  try {
    const res = await fetch('/v1/admin/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ key }),
    });
    if (res.status === 201) {
      location.assign('/admin/');
      return;
    }
    const body = await res.json().catch(() => ({}));
    error.textContent = (body.error && body.error.message) || `sign-in failed (${res.status})`;
  } catch (e) {
    error.textContent = `sign-in failed: ${e.message}`;
  }
  error.hidden = false;
});
