/**
 * Builds a service's image from a Dockerfile through the engine's build
 * endpoint (docs/services.md "Building from a Dockerfile"). What the build may
 * read is decided in build-context.ts; here the context is sent, the engine's
 * progress read (build-progress.ts: the endpoint answers 200 even when the
 * build fails), the time bounded, and images removed again.
 */
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { ApiError } from "../core/errors";
import type { DockerSettings } from "../core/docker-config";
import type { Logger } from "../core/logger";
import { contextArchive, listContext, resolveBuildSource, type BuildLimits, type BuildSource } from "./build-context";
import { BuildProgress } from "./build-progress";
import { dockerClient, engineError, MANAGED_LABEL, SERVICE_LABEL } from "./docker-engine";

export interface BuiltImage {
  /** portcullis/{service}:{unique tag} */
  readonly image: string;
  readonly imageId: string;
}

/** The repository a service's built images are tagged in. */
export function builtImageRepository(service: string): string {
  return `portcullis/${service}`;
}

export class ImageBuilder {
  private readonly docker: Docker;
  private readonly limits: BuildLimits;

  constructor(private readonly settings: DockerSettings, dataDir: string, private readonly log: Logger) {
    // The build request stays open while the engine works: its own bound is buildTimeoutMs.
    this.docker = dockerClient(settings, settings.buildTimeoutMs + 30_000);
    this.limits = { buildDir: settings.buildDir, dataDir, contextLimitBytes: settings.buildContextLimitBytes };
  }

  /** The Dockerfile and context for a dockerfile_path; 400 when building is off or the path leaves DOCKER_BUILD_DIR. */
  resolve(dockerfilePath: string): Promise<BuildSource> {
    return resolveBuildSource(this.limits, dockerfilePath);
  }

  /**
   * Builds and tags portcullis/{service}:{unique}, labelled as the service's.
   * A failed or timed-out build answers 400 build_failed with the engine's
   * last lines and leaves no image tagged.
   */
  async build(service: string, source: BuildSource): Promise<BuiltImage> {
    const listed = await listContext(source.contextDir, this.limits.contextLimitBytes);
    const image = `${builtImageRepository(service)}:${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.settings.buildTimeoutMs);
    const progress = new BuildProgress();
    let streamError: unknown = null;
    // A context file the gateway cannot read fails the upload: that is the context's fault, not the engine's.
    let contextError: unknown = null;
    const archive = contextArchive(listed);
    archive.on("error", (error) => {
      contextError ??= error;
      // The upload would otherwise wait for the rest of a body that never comes.
      abort.abort();
    });
    try {
      let output: NodeJS.ReadableStream;
      try {
        output = await this.docker.buildImage(archive as unknown as NodeJS.ReadableStream, {
          t: image,
          dockerfile: source.dockerfileName,
          labels: { [MANAGED_LABEL]: "true", [SERVICE_LABEL]: service },
          rm: true,
          forcerm: true,
          abortSignal: abort.signal,
        } as Docker.ImageBuildOptions);
      } catch (error) {
        if (contextError) throw unreadableContext(contextError);
        if (!timedOut) throw engineError(error, `build of ${JSON.stringify(source.dockerfilePath)}`, this.settings.host);
        output = emptyStream();
      }
      const decoder = new TextDecoder();
      try {
        for await (const chunk of output as AsyncIterable<Buffer | string>) progress.push(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }));
      } catch (error) {
        streamError = error;
      }
    } finally {
      clearTimeout(timer);
    }
    if (contextError) {
      await this.removeImage(image);
      throw unreadableContext(contextError);
    }
    const result = progress.result();
    const cause = timedOut
      ? `it took longer than DOCKER_BUILD_TIMEOUT (${this.settings.buildTimeoutMs / 1000} s) and was aborted`
      : result.error ?? (streamError ? `the engine's answer broke off (${errorText(streamError)})` : result.imageId === null ? "the engine reported no image" : null);
    if (cause !== null) {
      // The engine may still tag what it was building: remove it when it does not need it (now, and if the build was cut off, once more shortly after).
      await this.removeImage(image);
      if (timedOut) setTimeout(() => void this.removeImage(image), 5_000).unref?.();
      const lines = result.lastLines.length ? `; the engine's last lines:\n${result.lastLines.join("\n")}` : "";
      throw new ApiError("build_failed", `dockerfile_path: ${JSON.stringify(source.dockerfilePath)} did not build: ${cause}${lines}`);
    }
    return { image, imageId: result.imageId! };
  }

  /** Removes one image (a tag); gone already is fine, one a container still uses is left. */
  async removeImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).remove({ force: false });
      return true;
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 404) this.log.warn({ err: error, image }, "a built image could not be removed");
      return false;
    }
  }

  /**
   * Removes images labelled as built by the gateway that `inUse` does not
   * claim (by service and tags) and that are older than
   * ORPHAN_IMAGE_MIN_AGE_MS: e.g. what a build finished after the gateway had
   * given up on it (DOCKER_BUILD_TIMEOUT). The references removed.
   */
  async removeOrphans(inUse: (service: string, tags: readonly string[]) => boolean, now = Date.now()): Promise<string[]> {
    let images: Docker.ImageInfo[];
    try {
      images = await this.docker.listImages({ filters: { label: [`${MANAGED_LABEL}=true`] } });
    } catch (error) {
      throw engineError(error, "images", this.settings.host);
    }
    const removed: string[] = [];
    for (const info of images) {
      const service = info.Labels?.[SERVICE_LABEL];
      if (info.Labels?.[MANAGED_LABEL] !== "true" || !service) continue;
      if (inUse(service, info.RepoTags ?? [])) continue;
      if (now - info.Created * 1000 < ORPHAN_IMAGE_MIN_AGE_MS) continue;
      if (await this.removeImage(info.Id)) removed.push(info.RepoTags?.[0] ?? info.Id);
    }
    return removed;
  }

  /** Removes every image labelled as built for this service; the references removed. */
  async removeImagesOf(service: string): Promise<string[]> {
    let images: Docker.ImageInfo[];
    try {
      // One label filter: podman 4 answers nothing for two (Docker ANDs them); the managed label is checked below.
      images = await this.docker.listImages({ filters: { label: [`${SERVICE_LABEL}=${service}`] } });
    } catch (error) {
      this.log.warn({ err: error, service }, "the images built for a deleted service could not be listed");
      return [];
    }
    const removed: string[] = [];
    for (const info of images) {
      // The filter is the engine's; the labels are checked here too, so no other image is ever removed.
      if (info.Labels?.[MANAGED_LABEL] !== "true" || info.Labels?.[SERVICE_LABEL] !== service) continue;
      if (await this.removeImage(info.Id)) removed.push(info.RepoTags?.[0] ?? info.Id);
    }
    return removed;
  }
}

/** Built images younger than this are never orphans: a create may have built one and not yet stored its record. */
export const ORPHAN_IMAGE_MIN_AGE_MS = 10 * 60_000;

/** Whether `tags` (the engine's names; podman's start with docker.io/ or localhost/) name `image`. */
export function tagsName(tags: readonly string[] | undefined, image: string): boolean {
  return (tags ?? []).some((tag) => tag === image || tag === `docker.io/${image}` || tag === `docker.io/library/${image}` || tag === `localhost/${image}`);
}

function emptyStream(): NodeJS.ReadableStream {
  return (async function* () {})() as unknown as NodeJS.ReadableStream;
}

function unreadableContext(error: unknown): ApiError {
  return new ApiError("invalid_parameter", `dockerfile_path: the build context could not be read (${errorText(error)}); check the files under the Dockerfile's directory`);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
