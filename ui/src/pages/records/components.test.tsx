import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import i18n from '../../i18n';
import { OverrideForm } from './OverrideForm';
import { RecordList } from './RecordList';
import { DetectionOverlay } from './ImageViewer';
import type { Rec } from './api';

void i18n.changeLanguage('en');
afterEach(cleanup);

const defects = [{ code: 'scratch', name: 'Scratch' }, { code: 'dent', name: 'Dent' }];

describe('OverrideForm', () => {
  it('shows inline errors and does not submit an incomplete NG', async () => {
    const onSubmit = vi.fn(async () => {});
    render(<OverrideForm initial={{ result: 'NG', defectType: '', note: '', reason: '' }} defectTypes={defects} focusKey={1} onSubmit={onSubmit} onClose={() => {}} />);
    expect(document.activeElement?.id).toBe('ov-reason');
    fireEvent.click(screen.getByRole('button', { name: 'Save override' }));
    expect(await screen.findByText('An NG verdict needs a defect type.')).toBeTruthy();
    expect(screen.getByText('Say why the verdict changes.')).toBeTruthy();
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('submits a valid override as the API body', async () => {
    const onSubmit = vi.fn(async () => {});
    render(<OverrideForm initial={{ result: 'NG', defectType: 'dent', note: '', reason: '' }} defectTypes={defects} focusKey={1} onSubmit={onSubmit} onClose={() => {}} />);
    fireEvent.change(screen.getByLabelText('Reason'), { target: { value: 'visible dent' } });
    fireEvent.submit(screen.getByTestId('override-form'));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledWith({ result: 'ng', defect_type: 'dent', reason: 'visible dent' }));
  });

  it('switching to OK clears and disables the defect type', () => {
    render(<OverrideForm initial={{ result: 'NG', defectType: 'dent', note: '', reason: '' }} defectTypes={defects} focusKey={1} onSubmit={async () => {}} onClose={() => {}} />);
    fireEvent.click(screen.getByLabelText('OK'));
    const sel = screen.getByLabelText('Defect type') as HTMLSelectElement;
    expect(sel.value).toBe('');
    expect(sel.disabled).toBe(true);
  });

  it('closes on Escape', () => {
    const onClose = vi.fn();
    render(<OverrideForm initial={{ result: 'OK', defectType: '', note: '', reason: '' }} defectTypes={defects} focusKey={1} onSubmit={async () => {}} onClose={onClose} />);
    fireEvent.keyDown(screen.getByLabelText('Reason'), { key: 'Escape' });
    expect(onClose).toHaveBeenCalled();
  });
});

const rec = (id: string, p: Partial<Rec> = {}): Rec => ({
  record_id: id, device_id: 'd1', line: 'L1', product_code: 'P-1', lot: 'LOT-1', images: [], verdict: { result: 'ok' },
  effective_verdict: { result: 'ok' }, overrides: [], cloud: { pipeline_state: 'none' }, captured_at: '2026-11-30T01:02:03Z', ...p,
});

describe('RecordList', () => {
  it('renders compact rows with verdict, overridden and acknowledged markers', () => {
    const records = [
      rec('r1'),
      rec('r2', { effective_verdict: { result: 'ng', defect_type: 'dent' }, overrides: [{ override_id: 'o', actor: 'qa', reason: 'x', origin: 'cloud', verdict: { result: 'ng' } }] }),
    ];
    const onOpen = vi.fn();
    const onCheck = vi.fn();
    render(<RecordList records={records} activeId="r2" checked={new Set(['r1'])} ackedLocal={new Set(['r1'])} onOpen={onOpen} onCheck={onCheck} onCheckPage={() => {}} version={1} loading={false} />);
    const rows = document.querySelectorAll('tbody tr');
    expect(rows).toHaveLength(2);
    expect(rows[1]!.getAttribute('aria-selected')).toBe('true');
    expect(rows[1]!.getAttribute('data-verdict')).toBe('NG');
    expect(rows[0]!.querySelector('[data-testid=marker-acknowledged]')).toBeTruthy();
    expect(rows[1]!.querySelector('[data-testid=marker-overridden]')).toBeTruthy();
    fireEvent.click(rows[0]!);
    expect(onOpen).toHaveBeenCalledWith('r1');
    fireEvent.click(screen.getByLabelText('Select record r2'));
    expect(onCheck).toHaveBeenCalledWith('r2');
    expect(onOpen).toHaveBeenCalledTimes(1);
  });

  it('says so when nothing matches', () => {
    render(<RecordList records={[]} activeId={undefined} checked={new Set()} ackedLocal={new Set()} onOpen={() => {}} onCheck={() => {}} onCheckPage={() => {}} version={1} loading={false} />);
    expect(screen.getByText('No records match these filters.')).toBeTruthy();
  });
});

describe('DetectionOverlay', () => {
  it('draws boxes in image pixels under a viewBox of the image size', () => {
    render(<DetectionOverlay boxes={[{ x: 10, y: 20, w: 30, h: 40, label: 'dent', score: 0.9 }]} image={{ w: 1280, h: 720 }} scale={0.5} />);
    const svg = screen.getByTestId('detection-overlay');
    expect(svg.getAttribute('viewBox')).toBe('0 0 1280 720');
    const r = svg.querySelector('rect')!;
    expect([r.getAttribute('x'), r.getAttribute('y'), r.getAttribute('width'), r.getAttribute('height')]).toEqual(['10', '20', '30', '40']);
    expect(svg.textContent).toContain('dent 90%');
    // Labels keep a readable size at any zoom: 12 px on screen at scale 0.5 is 24 image pixels.
    expect(svg.querySelector('text')!.getAttribute('font-size')).toBe('24');
  });
});
