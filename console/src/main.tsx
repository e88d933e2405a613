import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { currentKey, setKey } from './api';
import { AuditPage } from './pages/audit';
import { ClientPage, ClientsPage } from './pages/clients';
import { KeyPage, KeysPage } from './pages/keys';
import { SignIn } from './pages/sign-in';
import { navigate } from './ui';
import './styles.css';

/** The route is the location's hash (#/clients/…), so the service serves one page for all of them. */
function useRoute(): string[] {
  const read = () =>
    window.location.hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const SECTIONS = [
  { path: 'clients', label: 'Clients' },
  { path: 'keys', label: 'Keys' },
  { path: 'audit', label: 'Audit' },
] as const;

function App() {
  const [signedIn, setSignedIn] = useState(Boolean(currentKey()));
  const route = useRoute();
  const section = route[0] ?? 'clients';

  useEffect(() => {
    const title = SECTIONS.find((s) => s.path === section)?.label ?? 'Console';
    document.title = signedIn ? `${title} · Keyhouse console` : 'Sign in · Keyhouse console';
  }, [section, signedIn]);

  if (!signedIn)
    return (
      <main id="main" class="sign-in-page">
        <SignIn
          onSignedIn={(key) => {
            setKey(key);
            setSignedIn(true);
            if (!window.location.hash) navigate('clients');
          }}
        />
      </main>
    );

  let page;
  if (section === 'clients' && route[1]) page = <ClientPage id={route[1]} />;
  else if (section === 'keys' && route[1]) page = <KeyPage id={route[1]} />;
  else if (section === 'keys') page = <KeysPage />;
  else if (section === 'audit') page = <AuditPage />;
  else page = <ClientsPage />;

  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Keyhouse console</span>
        <nav aria-label="Sections">
          {SECTIONS.map((s) => (
            <a key={s.path} href={`#/${s.path}`} aria-current={section === s.path ? 'page' : undefined}>
              {s.label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="sign-out"
          onClick={() => {
            setKey(null);
            setSignedIn(false);
            // The next sign-in, perhaps with another key, starts at the client list.
            history.replaceState(null, '', window.location.pathname);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
