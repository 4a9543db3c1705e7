// Part texts in the user's language. The catalogue (GET /api/v1/parts) is in
// English; Japanese titles, descriptions and parameter titles live under
// `parts.<part id>` in src/i18n/<lang>/pipelines.json. English keeps the
// API's text (its `parts` section is empty), and a part or parameter the
// translations do not know — a new or third-party part — falls back to it too.
import type { TFunction } from 'i18next';
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import type { Part } from './graph';
import type { JSONSchema } from './params';

export interface PartText {
  /** title of a part, or the id when the catalogue does not have it. */
  title: (id: string, part: Part | undefined) => string;
  description: (part: Part | undefined) => string | undefined;
  /** schema: the part's params schema with translated parameter titles (same object when nothing changes). */
  schema: (part: Part) => JSONSchema;
}

export function partText(t: TFunction<'pipelines'> | TFunction): PartText {
  const tr = (key: string, fallback: string) => t(key, { ns: 'pipelines', defaultValue: fallback });
  return {
    title: (id, part) => (part ? tr(`parts.${part.id}.title`, part.title || part.id) : id),
    description: (part) => {
      if (!part) return undefined;
      const d = tr(`parts.${part.id}.description`, part.description ?? '');
      return d || undefined;
    },
    schema: (part) => {
      const schema = part.params_schema as unknown as JSONSchema;
      const props = schema.properties;
      if (!props) return schema;
      let changed = false;
      const next: Record<string, JSONSchema> = {};
      for (const [key, s] of Object.entries(props)) {
        const title = tr(`parts.${part.id}.params.${key}`, s.title ?? key);
        changed ||= title !== (s.title ?? key);
        next[key] = title === (s.title ?? key) ? s : { ...s, title };
      }
      return changed ? { ...schema, properties: next } : schema;
    },
  };
}

/** usePartText: partText for the current language (a new object when the language changes). */
export function usePartText(): PartText {
  const { t, i18n } = useTranslation('pipelines');
  // eslint-disable-next-line react-hooks/exhaustive-deps
  return useMemo(() => partText(t), [t, i18n.language]);
}
