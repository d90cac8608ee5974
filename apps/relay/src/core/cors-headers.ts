/**
 * CORS for every response: media endpoints are public Matrix API, tokens travel in headers, never
 * cookies, so any origin may call them (and read the tus and Range headers).
 */
export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
  'Access-Control-Allow-Headers':
    'Authorization, Content-Type, Content-Range, Range, Upload-Offset, Upload-Length, Upload-Defer-Length, Upload-Metadata, Tus-Resumable, X-HTTP-Method-Override',
  'Access-Control-Expose-Headers':
    'Location, Upload-Offset, Upload-Length, Upload-Defer-Length, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Content-Range, Content-Length, ETag, Accept-Ranges',
};
