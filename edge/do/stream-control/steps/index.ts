/** Every go-live saga step, by name, in the order SAGA_STEPS runs them. */
import type { SagaStep } from "../deps.ts";
import { configureEncoders } from "./configure-encoders.ts";
import { goLive } from "./go-live.ts";
import { reserveCapacity } from "./reserve-capacity.ts";
import type { SagaStepModule } from "./step.ts";
import { validateEvent } from "./validate-event.ts";
import { warmupCdn } from "./warmup-cdn.ts";

export const SAGA_STEP_MODULES = {
  validate_event: validateEvent,
  reserve_capacity: reserveCapacity,
  configure_encoders: configureEncoders,
  warmup_cdn: warmupCdn,
  go_live: goLive,
} satisfies Record<SagaStep, SagaStepModule>;

export type { SagaStepModule, StepContext } from "./step.ts";
