import { lazy, Suspense, useMemo, type ReactNode } from 'react';
import { createBrowserRouter, Navigate, Route, RouterProvider, Routes } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Loading } from '../components/ui';
import type { UIConfig } from './config';
import { ServicesProvider } from './context';
import { Layout, visibleNav } from './Layout';
import { Login } from './Login';
import { SessionProvider, useSession } from './session';

// Screens load on demand so the inspector screens stay light for the edge box.
const DashboardPage = lazy(() => import('../pages/dashboard').then((m) => ({ default: m.DashboardPage })));
const PipelineListPage = lazy(() => import('../pages/pipelines').then((m) => ({ default: m.PipelineListPage })));
const PipelineEditorPage = lazy(() => import('../pages/pipelines').then((m) => ({ default: m.PipelineEditorPage })));
const ExecutionListPage = lazy(() => import('../pages/executions').then((m) => ({ default: m.ExecutionListPage })));
const ExecutionDetailPage = lazy(() => import('../pages/executions').then((m) => ({ default: m.ExecutionDetailPage })));
const RecordsPage = lazy(() => import('../pages/records').then((m) => ({ default: m.RecordsPage })));
const FleetPage = lazy(() => import('../pages/fleet').then((m) => ({ default: m.FleetPage })));
const UsersPage = lazy(() => import('../pages/users').then((m) => ({ default: m.UsersPage })));
const InspectPage = lazy(() => import('../pages/inspect').then((m) => ({ default: m.InspectPage })));

function Guard({ perm, children }: { perm: string; children: ReactNode }) {
  const { can } = useSession();
  const { t } = useTranslation();
  if (!can(perm)) return <div className="page empty">{t('forbidden')}</div>;
  return <>{children}</>;
}

function Home({ hasEdge }: { hasEdge: boolean }) {
  const { can } = useSession();
  const first = visibleNav(can, hasEdge)[0];
  return <Navigate to={first ? first.to : '/login'} replace />;
}

function CloudRoutes({ hasEdge }: { hasEdge: boolean }) {
  const { session } = useSession();
  const { t } = useTranslation();
  if (!session) return <Login />;
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Home hasEdge={hasEdge} />} />
        <Route path="login" element={<Home hasEdge={hasEdge} />} />
        <Route path="dashboard" element={<Guard perm="records:read"><DashboardPage /></Guard>} />
        <Route path="pipelines" element={<Guard perm="pipelines:read"><PipelineListPage /></Guard>} />
        <Route path="pipelines/new" element={<Guard perm="pipelines:write"><PipelineEditorPage /></Guard>} />
        <Route path="pipelines/:id" element={<Guard perm="pipelines:read"><PipelineEditorPage /></Guard>} />
        <Route path="executions" element={<Guard perm="executions:read"><ExecutionListPage /></Guard>} />
        <Route path="executions/:id" element={<Guard perm="executions:read"><ExecutionDetailPage /></Guard>} />
        <Route path="records" element={<Guard perm="records:read"><RecordsPage /></Guard>} />
        <Route path="records/:id" element={<Guard perm="records:read"><RecordsPage /></Guard>} />
        <Route path="fleet" element={<Guard perm="devices:read"><FleetPage /></Guard>} />
        <Route path="users" element={<Guard perm="users:manage"><UsersPage /></Guard>} />
        {hasEdge && <Route path="inspect" element={<InspectPage />} />}
        <Route path="*" element={<div className="page empty">{t('notFound')}</div>} />
      </Route>
    </Routes>
  );
}

/** EdgeRoutes: served by an edge agent (browser on the box, desktop app): the inspector screens only, no sign-in (the local API is loopback-only). */
function EdgeRoutes() {
  return (
    <Routes>
      <Route path="*" element={<InspectPage />} />
    </Routes>
  );
}

function Screens({ config }: { config: UIConfig }) {
  return (
    <Suspense fallback={<Loading />}>
      {config.mode === 'edge' ? (
        <EdgeRoutes />
      ) : (
        <SessionProvider>
          <CloudRoutes hasEdge={config.edgeUrl !== ''} />
        </SessionProvider>
      )}
    </Suspense>
  );
}

export function App({ config }: { config: UIConfig }) {
  // A data router (not <BrowserRouter>) so screens can block navigation
  // with useBlocker, e.g. the pipeline editor with unsaved changes; the
  // screens' own <Routes> sit below its one splat route.
  const router = useMemo(() => createBrowserRouter([{ path: '*', element: <Screens config={config} /> }]), [config]);
  return (
    <ServicesProvider config={config}>
      <RouterProvider router={router} />
    </ServicesProvider>
  );
}
