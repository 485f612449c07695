// Sign in: domain, user, password -> POST /v3/auth/tokens.
import { h, field } from '../dom.js';
import { signIn } from '../api.js';

export async function renderSignIn(main, ctx, query) {
  const domain = h('input', { name: 'domain', autocomplete: 'organization', required: true });
  const user = h('input', { name: 'user', autocomplete: 'username', required: true });
  const password = h('input', {
    name: 'password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const message = h('div', { class: 'form-message', 'aria-live': 'assertive' });
  if (ctx.notice) message.append(h('div', { class: 'alert alert-info' }, ctx.notice));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const last = sessionStorage.getItem('sms.console.lastDomain');
  if (last) domain.value = last;

  const form = h('form', {
    class: 'signin-form',
    'aria-labelledby': 'signin-title',
    onsubmit: async (ev) => {
      ev.preventDefault();
      message.replaceChildren();
      submit.disabled = true;
      submit.textContent = 'Signing in…';
      try {
        await signIn(domain.value.trim(), user.value.trim(), password.value);
        sessionStorage.setItem('sms.console.lastDomain', domain.value.trim());
        const next = query.next && query.next.startsWith('#/') ? query.next : '#/tasks';
        location.hash = next;
      } catch (err) {
        password.value = '';
        const text = err.status === 403
          ? 'The domain, user name or password is not correct.'
          : err.message;
        message.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert' }, text));
        password.focus();
      } finally {
        submit.disabled = false;
        submit.textContent = 'Sign in';
      }
    },
  },
  field('Domain', domain),
  field('User name', user),
  field('Password', password),
  message,
  submit);

  main.append(h('div', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'signin-brand' },
        h('img', { src: 'favicon.svg', alt: '', width: 40, height: 40 }),
        h('div', {},
          h('h1', { id: 'signin-title' }, 'SMS Consistency'),
          h('p', { class: 'muted' }, 'Sign in to see how your migrations verify.'))),
      form)));
  (domain.value ? user : domain).focus();
}
