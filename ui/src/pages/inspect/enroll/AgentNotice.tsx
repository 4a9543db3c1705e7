// AgentNotice says, in the desktop app, why the edge agent the app
// supervises is not running — binary missing, configuration invalid, port
// taken — with the last lines it wrote, and when the app tries again. It
// stays through restart attempts until the agent is ready. Nothing shows in
// a browser or while the agent runs.
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useDesktopAgent } from './desktop';
import './enroll.css';

export function AgentNotice() {
  const { t } = useTranslation('desktop');
  const agent = useDesktopAgent();
  const [since, setSince] = useState(() => Date.now());
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => setSince(Date.now()), [agent]);
  useEffect(() => {
    if (agent?.phase !== 'failed') return;
    const id = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(id);
  }, [agent?.phase]);
  // Shown from a failure until the agent is ready again, through restart attempts.
  if (!agent || !agent.reason || agent.phase === 'running' || agent.phase === 'external') return null;
  const left = agent.phase !== 'failed' || agent.next_attempt_ms === null ? null : Math.max(0, Math.ceil((agent.next_attempt_ms - (now - since)) / 1000));
  return (
    <section className="desk-agent" role="alert" data-testid="desktop-agent-failed" data-restarts={agent.restarts}>
      <div className="desk-agent-head">
        <strong>{t('agent.title')}</strong>
        <span data-testid="desktop-agent-reason">{agent.reason}</span>
      </div>
      <dl className="desk-agent-facts">
        <dt>{t('agent.binary')}</dt>
        <dd className="desk-mono">{agent.binary || '—'}</dd>
        <dt>{t('agent.config')}</dt>
        <dd className="desk-mono">{agent.agent_config || t('agent.defaults')}</dd>
        <dt>{t('agent.address')}</dt>
        <dd className="desk-mono">{agent.http_addr}</dd>
        <dt>{t('agent.retry')}</dt>
        <dd data-testid="desktop-agent-retry">
          {agent.phase === 'starting' ? t('agent.retrying', { restarts: agent.restarts }) : left === null ? '—' : t('agent.retryIn', { seconds: left, restarts: agent.restarts })}
        </dd>
      </dl>
      {agent.output_tail.length > 0 && (
        <>
          <div className="desk-agent-sub">{t('agent.output')}</div>
          <pre className="desk-agent-tail desk-mono" data-testid="desktop-agent-output">{agent.output_tail.join('\n')}</pre>
        </>
      )}
    </section>
  );
}
