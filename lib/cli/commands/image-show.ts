/** `incus image show|edit`: an image as YAML, and its writable part through $EDITOR. */
import type { Command } from 'commander';
import type { ImagePut } from '../../api/image';
import type { CliContext } from '../context';
import { runEdit } from '../edit-loop';
import { map, orderKeys, struct } from '../format/go-order';
import { imageShape } from '../format/shapes';
import { renderYaml } from '../format/yaml';
import { incusOf, remoteArg, resolveImageOn } from '../image-remote';
import { processTerminal, type Terminal } from '../terminal';
import { sameValue } from '../writable';
import { decodeYaml, type StructSpec } from '../yaml-decode';

type ImagesApi = typeof import('../../client/images');
const imagesApi = (): ImagesApi => require('../../client/images') as ImagesApi;

/** api.ImagePut */
export const IMAGE_PUT: StructSpec = {
  name: 'api.ImagePut',
  fields: { auto_update: 'bool', properties: 'stringMap', public: 'bool', expires_at: 'string', profiles: 'strings' },
};

const imagePutShape = struct([
  ['auto_update', null],
  ['properties', map()],
  ['public', null],
  ['expires_at', null],
  ['profiles', null],
]);

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The YAML `image edit` opens with, Incus's help comment first. */
export function imageEditText(put: ImagePut): string {
  const help = [
    '### This is a YAML representation of the image properties.',
    "### Any line starting with a '# will be ignored.",
    '###',
    '### Each property is represented by a single line:',
    '### An example would be:',
    '###  description: My custom image',
  ];
  return `${help.join('\n')}\n${renderYaml(orderKeys(put, imagePutShape))}`;
}

function writable(img: ImagePut): ImagePut {
  return {
    auto_update: img.auto_update,
    properties: img.properties ?? {},
    public: img.public,
    expires_at: img.expires_at || ZERO_TIME,
    profiles: img.profiles ?? [],
  };
}

function forWire(put: ImagePut): ImagePut {
  return { ...put, expires_at: put.expires_at || ZERO_TIME, properties: put.properties ?? {}, profiles: put.profiles ?? [] };
}

async function editImage(ctx: CliContext, arg: string, term: Terminal): Promise<void> {
  const { server, name } = remoteArg(ctx, arg);
  const client = incusOf(server);
  const { image } = await resolveImageOn(server, name);
  const api = imagesApi();
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  await runEdit(
    io,
    term,
    async () => {
      const { value, etag } = await api.getImageWithEtag(client, image.fingerprint);
      const current = writable(value);
      return {
        text: imageEditText(current),
        decode: (text: string) => forWire(decodeYaml<ImagePut>(text, IMAGE_PUT)),
        unchanged: (put: ImagePut) => (Object.keys(current) as (keyof ImagePut)[]).every((k) => sameValue(put[k], current[k])),
        save: (put: ImagePut) => api.updateImage(client, image.fingerprint, put, { etag }),
      };
    },
    (text) => api.updateImage(client, image.fingerprint, forWire(decodeYaml<ImagePut>(text, IMAGE_PUT))),
  );
}

/** Adds `image show` and `image edit` to the image command. */
export function register(image: Command, ctx: CliContext): void {
  const term = processTerminal(ctx.io.env);

  image
    .command('show')
    .description('Show image properties')
    .argument('<image>', '[<remote>:]<image>')
    .action(async (arg: string) => {
      const { server, name } = remoteArg(ctx, arg);
      const { image: img } = await resolveImageOn(server, name);
      ctx.out(renderYaml(orderKeys(img, imageShape)));
    });

  image
    .command('edit')
    .description('Edit image properties')
    .argument('<image>', '[<remote>:]<image>')
    .action(async (arg: string) => {
      await editImage(ctx, arg, term);
    });
}
