import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import i18n from '../../i18n';
import type { Params } from './graph';
import { validateParams, type JSONSchema } from './params';
import { SchemaForm } from './SchemaForm';
import { partMap } from './testParts';

const schema: JSONSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['width'],
  properties: {
    width: { type: 'integer', title: 'Width (px)', minimum: 1, maximum: 8192, default: 640, description: 'Output width' },
    sigma: { type: 'number', title: 'Sigma', minimum: 0, maximum: 100 },
    keep_aspect: { type: 'boolean', title: 'Keep aspect ratio', default: true },
    interpolation: { type: 'string', title: 'Interpolation', enum: ['nearest', 'linear'], default: 'linear' },
    aperture: { type: 'integer', title: 'Aperture', enum: [3, 5, 7], default: 3 },
    label: { type: 'string', title: 'Label' },
  },
};

function Harness({ initial = {}, onValue, validate }: { initial?: Params; onValue?: (v: Params) => void; validate?: (v: Params) => ReturnType<typeof validateParams> }) {
  const [v, setV] = useState<Params>(initial);
  return (
    <SchemaForm
      schema={schema}
      value={v}
      validate={validate}
      onChange={(n) => {
        setV(n);
        onValue?.(n);
      }}
    />
  );
}

afterEach(cleanup);

beforeAll(async () => {
  await i18n.changeLanguage('en');
});

describe('SchemaForm', () => {
  it('renders a field per property with titles, help, defaults and bounds', () => {
    render(<Harness />);
    expect(screen.getByLabelText(/Width \(px\)/)).toHaveProperty('placeholder', '640');
    expect(screen.getByText('Output width')).toBeTruthy();
    expect(screen.getByText(/1 – 8192/)).toBeTruthy();
    expect((screen.getByLabelText('Keep aspect ratio') as HTMLInputElement).checked).toBe(true);
    const sel = screen.getByLabelText('Interpolation') as HTMLSelectElement;
    expect(sel.tagName).toBe('SELECT');
    expect([...sel.options].map((o) => o.value)).toEqual(['nearest', 'linear']);
    expect(sel.value).toBe('linear');
    expect(screen.getByLabelText('Label').tagName).toBe('INPUT');
  });

  it('emits typed values', () => {
    const onValue = vi.fn();
    render(<Harness onValue={onValue} />);
    fireEvent.change(screen.getByLabelText(/Width/), { target: { value: '800' } });
    expect(onValue).toHaveBeenLastCalledWith({ width: 800 });
    fireEvent.click(screen.getByLabelText('Keep aspect ratio'));
    expect(onValue).toHaveBeenLastCalledWith({ width: 800, keep_aspect: false });
    fireEvent.change(screen.getByLabelText('Aperture'), { target: { value: '5' } });
    expect(onValue).toHaveBeenLastCalledWith({ width: 800, keep_aspect: false, aperture: 5 });
    fireEvent.change(screen.getByLabelText('Sigma'), { target: { value: '1.5' } });
    expect(onValue).toHaveBeenLastCalledWith(expect.objectContaining({ sigma: 1.5 }));
  });

  it('clearing a field removes it so the default applies', () => {
    const onValue = vi.fn();
    render(<Harness initial={{ width: 100 }} onValue={onValue} />);
    fireEvent.change(screen.getByLabelText(/Width/), { target: { value: '' } });
    expect(onValue).toHaveBeenLastCalledWith({});
  });

  it('shows an inline error for an out-of-range value', () => {
    render(<Harness initial={{ width: 100 }} />);
    expect(screen.queryByTestId('param-error-width')).toBeNull();
    fireEvent.change(screen.getByLabelText(/Width/), { target: { value: '9000' } });
    expect(screen.getByTestId('param-error-width').textContent).toBe('Must be at most 8192.');
    expect(screen.getByLabelText(/Width/).getAttribute('aria-invalid')).toBe('true');
    fireEvent.change(screen.getByLabelText(/Width/), { target: { value: '0' } });
    expect(screen.getByTestId('param-error-width').textContent).toBe('Must be at least 1.');
  });

  it('shows an error for non-numbers and non-integers', () => {
    const onValue = vi.fn();
    render(<Harness initial={{ width: 100 }} onValue={onValue} />);
    fireEvent.change(screen.getByLabelText(/Width/), { target: { value: '12px' } });
    expect(screen.getByTestId('param-error-width').textContent).toBe('Enter a number.');
    expect(onValue).not.toHaveBeenCalled();
    fireEvent.change(screen.getByLabelText(/Width/), { target: { value: '12.5' } });
    expect(screen.getByTestId('param-error-width').textContent).toBe('Must be a whole number.');
  });

  it('flags a missing required value', () => {
    render(<Harness initial={{ width: 5 }} />);
    fireEvent.change(screen.getByLabelText(/Width/), { target: { value: '' } });
    expect(screen.getByTestId('param-error-width').textContent).toBe('Required.');
  });

  it('uses a part validator with the server-side rules', () => {
    const part = partMap.get('gaussian_blur')!;
    render(<SchemaForm schema={part.params_schema as unknown as JSONSchema} value={{ ksize: 4 }} onChange={() => {}} validate={(v) => validateParams(part, v)} />);
    expect(screen.getByTestId('param-error-ksize').textContent).toBe('Must be an odd number.');
  });

  it('shows server errors and stays read-only when asked', () => {
    render(<SchemaForm schema={schema} value={{ width: 10 }} onChange={() => {}} readOnly extraErrors={{ width: 'too wide for this camera' }} />);
    expect(screen.getByText('too wide for this camera')).toBeTruthy();
    expect((screen.getByLabelText(/Width/) as HTMLInputElement).disabled).toBe(true);
  });
});
