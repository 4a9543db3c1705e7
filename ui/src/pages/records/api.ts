// The review screen's calls to the cloud API (generated types throughout).
import { cloud, unwrap, type CloudSchemas } from '../../api/client';
import type { SearchQuery } from './filters';

export type Rec = CloudSchemas['Record'];
export type RecordImage = Rec['images'][number];
export type Master = CloudSchemas['InspectionMaster'];

/** PAGE_SIZE keeps each page light to fetch and render (the 200 ms budget). */
export const PAGE_SIZE = 50;

export interface Page {
  records: Rec[];
  next: string | undefined;
}

export async function searchRecords(q: SearchQuery, signal?: AbortSignal): Promise<Page> {
  const data = await unwrap(cloud.GET('/api/v1/records', { params: { query: q }, signal }));
  return { records: data.records, next: data.next_page_token || undefined };
}

const inflight = new Map<string, Promise<Page>>();

/**
 * startSearch starts (or joins) a search. The page calls it the moment a
 * filter changes or a page turns, before React re-renders, and the list
 * effect then joins the same request: the round trip overlaps the render.
 * A settled search is kept for a moment only (long enough to be joined).
 */
export function startSearch(q: SearchQuery): Promise<Page> {
  const k = JSON.stringify(q);
  let p = inflight.get(k);
  if (!p) {
    p = searchRecords(q);
    inflight.set(k, p);
    const drop = () => window.setTimeout(() => inflight.get(k) === p && inflight.delete(k), 2000);
    p.then(drop, drop);
  }
  return p;
}

export function getRecord(id: string, signal?: AbortSignal): Promise<Rec> {
  return unwrap(cloud.GET('/api/v1/records/{record_id}', { params: { path: { record_id: id } }, signal }));
}

export function overrideRecord(id: string, body: CloudSchemas['OverrideRequest']): Promise<Rec> {
  return unwrap(cloud.POST('/api/v1/records/{record_id}/overrides', { params: { path: { record_id: id } }, body }));
}

/** acknowledge marks records acknowledged; the answer counts the newly acknowledged ones. */
export async function acknowledge(ids: string[]): Promise<number> {
  const data = await unwrap(cloud.POST('/api/v1/records/acknowledge', { body: { record_ids: ids } }));
  return data.acknowledged;
}

const masters = new Map<string, Promise<Master | null>>();

/** getMaster loads (once per session) a product's master; null when the product has none. */
export function getMaster(code: string): Promise<Master | null> {
  let p = masters.get(code);
  if (!p) {
    p = unwrap(cloud.GET('/api/v1/masters/{product_code}', { params: { path: { product_code: code } } })).catch((e: unknown) => {
      masters.delete(code);
      if (typeof e === 'object' && e !== null && 'status' in e && (e as { status: number }).status === 404) return null;
      throw e;
    });
    masters.set(code, p);
  }
  return p;
}

/** listMasters loads every product's master (filter suggestions). */
export async function listMasters(): Promise<Master[]> {
  const data = await unwrap(cloud.GET('/api/v1/masters'));
  return data.masters ?? [];
}

/** listLines returns device ids and lines of the fleet (filter suggestions). */
export async function listDevices(): Promise<{ devices: string[]; lines: string[] }> {
  const data = await unwrap(cloud.GET('/api/v1/devices'));
  const devs = data.devices ?? [];
  return {
    devices: [...new Set(devs.map((d) => d.device_id))].sort(),
    lines: [...new Set(devs.map((d) => d.line).filter((l): l is string => !!l))].sort(),
  };
}

/** imageSrc prefers a signed download URL (usable in <img> directly) over the bearer-only API URL. */
export function imageSrc(im: RecordImage | undefined): string | undefined {
  if (!im) return undefined;
  return im.download_url || im.url || undefined;
}

/** acknowledgedAt reads a record's acknowledgement time, when the API reports it. */
export function acknowledgedAt(r: Rec): { at?: string; by?: string } {
  return { at: r.acknowledged_at, by: r.acknowledged_by };
}

const frames = new Map<string, Promise<{ w: number; h: number } | null>>();

/** fileSize is the pixel size of a stored file (the detector frame of a node output); null when unknown. */
export function fileSize(fileId: string): Promise<{ w: number; h: number } | null> {
  let p = frames.get(fileId);
  if (!p) {
    p = unwrap(cloud.GET('/api/v1/files/{file_id}', { params: { path: { file_id: fileId } } })).then(
      (f) => (f.width && f.height ? { w: f.width, h: f.height } : null),
      () => null,
    );
    frames.set(fileId, p);
  }
  return p;
}
