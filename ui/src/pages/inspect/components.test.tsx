import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import i18n from '../../i18n';
import { Banners, StatusStrip } from './StatusStrip';
import { VerdictBar } from './VerdictBar';
import { PrefilterOverlay } from './Stage';
import type { EdgeStatus } from './status';
import { emptyDraft, type Product } from './verdict';

await i18n.changeLanguage('en');
afterEach(cleanup);

const status: EdgeStatus = {
  device_id: 'edge-7', line: 'L2', queued: 4, queued_bytes: 2048, last_error: 'dial tcp: connection refused', sync_connected: false,
  sync_running: true, records: 9, budget_bytes: 0, soft_limit_bytes: 1, hard_limit_bytes: 2, capture_allowed: true, capture_refusal: '',
  camera: 'live', model: { name: 'prefilter', version: '1.0.0', sha256: '', threshold: 0.3, source: 'embedded' },
  sync: { enrolled: true, connected: false, revoked: false, cloud_addr: 'c', queued_bytes: 2048, last_error: 'dial tcp: connection refused',
    last_error_at: '2026-01-01T00:00:00Z', sent_records: 0, sent_bytes: 0, resent_bytes: 0, model_version: '1.0.0' },
};

const product = {
  code: 'P', name: 'Part', master_version: 1, items: [], prefilter_model_name: '', prefilter_model_version: '', prefilter_threshold: 0.3,
  pipeline_id: '', pipeline_version: 0, defect_types: [{ code: 'scratch', name: 'Scratch' }, { code: 'dent', name: 'Dent' }],
} satisfies Product;

describe('status strip and banners', () => {
  it('shows offline with the queue, the last error and the offline banner', () => {
    render(<><StatusStrip status={status} agent="reachable" onSyncNow={() => {}} syncing={false} showLanguage={false} /><Banners status={status} agent="reachable" /></>);
    expect(screen.getByTestId('sync-state').textContent).toContain('Offline');
    expect(screen.getByTestId('queued-count').textContent).toBe('4 · 2.0 KB');
    expect(screen.getByText('dial tcp: connection refused')).toBeTruthy();
    expect(screen.getByTestId('banner-cloud').textContent).toContain('4 queued');
  });
  it('says the agent is unreachable, not the cloud, and disables Sync now', () => {
    render(<><StatusStrip status={status} agent="unreachable" onSyncNow={() => {}} syncing={false} showLanguage={false} /><Banners status={status} agent="unreachable" /></>);
    expect(screen.getByTestId('sync-state').textContent).toContain('Agent unreachable');
    expect(screen.queryByTestId('banner-cloud')).toBeNull();
    expect(screen.getByTestId('banner-agent')).toBeTruthy();
    expect((screen.getByTestId('sync-now') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('VerdictBar', () => {
  const noop = () => {};
  const base = { busy: null, canCapture: true, product, draft: emptyDraft, errors: {}, error: null, onCapture: noop, onOK: noop, onNG: noop, onDefect: noop, onNote: noop, onSubmitNG: noop, onBack: noop };
  it('offers OK and NG on a capture', () => {
    const onOK = vi.fn();
    render(<VerdictBar {...base} mode="review" onOK={onOK} />);
    fireEvent.click(screen.getByTestId('verdict-ok'));
    expect(onOK).toHaveBeenCalledOnce();
    expect(screen.getByTestId('verdict-ng')).toBeTruthy();
  });
  it('NG lists the master defect types with their number keys and needs one before saving', () => {
    const onDefect = vi.fn();
    const { rerender } = render(<VerdictBar {...base} mode="ng" draft={{ result: 'NG', defectType: '', note: '' }} onDefect={onDefect} />);
    expect(screen.getByTestId('defect-dent').textContent).toBe('2Dent');
    expect((screen.getByTestId('save-ng') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId('defect-dent'));
    expect(onDefect).toHaveBeenCalledWith('dent');
    rerender(<VerdictBar {...base} mode="ng" draft={{ result: 'NG', defectType: 'dent', note: '' }} errors={{ note: 'verdict.errors.noteTooLong' }} />);
    expect((screen.getByTestId('save-ng') as HTMLButtonElement).disabled).toBe(false);
    expect(screen.getByText('The note is too long (4096 bytes at most).')).toBeTruthy();
  });
  it('disables Capture when the station cannot capture', () => {
    render(<VerdictBar {...base} mode="live" canCapture={false} />);
    expect((screen.getByTestId('capture') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('PrefilterOverlay', () => {
  it('suggests checking a suspect capture and places score and threshold on the gauge', () => {
    const { container } = render(<PrefilterOverlay p={{ score: 0.62, threshold: 0.3, suspect: true, label: 'suspect', model_name: 'prefilter', model_version: '1.0.0' }} />);
    expect(screen.getByTestId('suggestion').textContent).toContain('Check — suspect');
    expect((container.querySelector('.insp-gauge-fill') as HTMLElement).style.width).toBe('62%');
    expect((container.querySelector('.insp-gauge-mark') as HTMLElement).style.left).toBe('30%');
  });
});
