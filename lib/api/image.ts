/** Images and aliases (`/1.0/images`). */

export interface ImageAlias {
  name: string;
  description: string;
}

export interface ImageSource {
  alias: string;
  certificate: string;
  protocol: string;
  server: string;
  image_type: string;
}

export interface ImagePut {
  auto_update: boolean;
  properties: Record<string, string>;
  public: boolean;
  expires_at: string;
  profiles: string[];
}

export interface Image extends ImagePut {
  aliases: ImageAlias[];
  architecture: string;
  cached: boolean;
  filename: string;
  fingerprint: string;
  size: number;
  update_source?: ImageSource;
  type: 'container' | 'virtual-machine';
  created_at: string;
  last_used_at: string;
  uploaded_at: string;
  project: string;
}

/**
 * POST /1.0/images/{fingerprint}/export: the server pushes the image to
 * `target`, presenting `secret` (from the target's push token).
 */
export interface ImageExportPost {
  /** The target server's URL (`https://host:port`). */
  target: string;
  secret: string;
  /** The target's certificate (PEM), trusted for this connection only. */
  certificate: string;
  aliases?: ImageAlias[];
  /** The target project. */
  project?: string;
  profiles?: string[];
}

/** `metadata.yaml` inside an image tarball. */
export interface ImageMetadata {
  architecture: string;
  creation_date: number;
  expiry_date?: number;
  properties?: Record<string, string>;
  templates?: Record<string, ImageMetadataTemplate>;
}

export interface ImageMetadataTemplate {
  when: string[];
  create_only?: boolean;
  template: string;
  properties?: Record<string, string>;
  uid?: string;
  gid?: string;
  mode?: string;
}

export interface ImageAliasesPost {
  name: string;
  description?: string;
  target: string;
  type?: string;
}

export interface ImageAliasesEntryPut {
  description: string;
  target: string;
}

export interface ImageAliasesEntry extends ImageAliasesEntryPut {
  name: string;
  type: string;
}
