/**
 * The API extensions this server implements, named as Incus names them.
 * Clients use these to decide which endpoints and fields to use, so only
 * what really works is listed; each issue adds its own.
 */
export const API_EXTENSIONS: string[] = [
  'etag',
  'patch',
  'container_last_used_at',
  'container_image_properties',
  'image_create_aliases',
  'entity_description',
  'operation_description',
  'event_lifecycle',
  'container_full',
  'instances',
  'image_types',
  'api_filtering',
  'instance_all_projects',
  'instance_get_full',
  'operation_wait',
  'instance_create_start',
  'instance_state_started_at',
  'storage_api_project',
  'server_supported_storage_drivers',
  'event_project',
  'event_lifecycle_name_and_project',
];
