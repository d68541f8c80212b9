/** Loaded before every test file (bunfig.toml): cleans up after the whole run. */
import { afterAll } from "bun:test";
import { removeTempDirs } from "./helpers/temp";

afterAll(removeTempDirs);
