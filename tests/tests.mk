# tests/tests.mk: the test suite (cmocka), included by the Makefile.
# Each tests/test_*.c is one program, linked with the helpers they share
# (tests/util.c), the runtime, the compiler's passes (not its main) and the C
# that aec generates for the test models.
# Generated C is compiled with -Werror: it must stay warning-free.

TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_AE  := $(wildcard tests/models/*.ae) models/fmnist_cae.ae models/celeba_vae.ae
GEN_OBJ  := $(foreach m,$(TEST_AE),$(B)/tests/gen/$(basename $(notdir $(m))).o)
CC_PASSES := $(filter-out $(B)/cc/main.o,$(CC_OBJ))
TEST_UTIL := $(B)/tests/util.o

$(TEST_UTIL): tests/util.c tests/util.h runtime/aec.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iruntime -c $< -o $@

# The test models' C and the test programs, in $(B)/tests/$(1) (empty: the
# host's build, $(B)/tests/) for target $(2) (empty: the host's default).
define test_rules
$(B)/tests/$(1)gen/%.c: tests/models/%.ae $(B)/aec
	$(B)/aec emit $(if $(2),--target $(2) )$$< -o $$(@D)
$(B)/tests/$(1)gen/%.c: models/%.ae $(B)/aec
	$(B)/aec emit $(if $(2),--target $(2) )$$< -o $$(@D)
$(B)/tests/$(1)gen/%.o: $(B)/tests/$(1)gen/%.c
	$(CC) $(CFLAGS) $(if $(2),$$$$($(B)/aec targets --cflags $(2)) )-fopenmp -Werror -DAEC_NO_MAIN -Iruntime -c $$< -o $$@
$(B)/tests/$(1)%: tests/%.c $(TEST_UTIL) $(GEN_OBJ:$(B)/tests/gen/%=$(B)/tests/$(1)gen/%) $(CC_PASSES) \
                 $(B)/libaecrt.a $(wildcard tests/*.h)
	@mkdir -p $$(@D)
	$(CC) $(CFLAGS) -Iruntime -Icompiler -I$(B)/cc -I$(B)/tests/$(1)gen -DAEC_ROOT='"$(CURDIR)"' \
	    -DAEC_BUILD='"$(CURDIR)/$(B)"' \
	    $$< $(TEST_UTIL) $(GEN_OBJ:$(B)/tests/gen/%=$(B)/tests/$(1)gen/%) $(CC_PASSES) $(B)/libaecrt.a \
	    -lcmocka $(LIBS) -fopenmp -o $$@
endef
$(eval $(call test_rules,,))

# Every target this CPU can run (lower/target.c) passes the gradient checks
# and the PyTorch parity test: both programs again for each x86 target, with
# the test models emitted for it (aec emit --target T) and compiled with its
# flags (aec targets --cflags T). A target the CPU does not run skips its
# tests, saying so (tests/util.c, skip_unless_cpu_runs). test_targets
# compiles every model for every target, aarch64 too.
TARGET_TESTS := test_gradcheck test_parity
X86_TARGETS  := $(if $(filter x86_64,$(shell uname -m)),x86-64-v4 x86-64-v3 generic)
TARGET_BIN   := $(foreach t,$(X86_TARGETS),$(TARGET_TESTS:%=$(B)/tests/$(t)/%))

$(foreach t,$(X86_TARGETS),$(eval $(call test_rules,$(t)/,$(t))))

# The host's build of the two is replaced by the per-target ones, where there are any.
RUN_BIN := $(if $(X86_TARGETS),$(filter-out $(TARGET_TESTS:%=$(B)/tests/%),$(TEST_BIN)) $(TARGET_BIN),$(TEST_BIN))

test: all $(RUN_BIN) $(B)/latent_walk
	bash tests/run $(RUN_BIN)

# SAN=1 (see the Makefile): AEC_HOME for `aec build`, a folder with runtime/
# and build/ in it, as links to the sources and to build-san/.
ifeq ($(SAN),1)
$(MODELS:%=$(B)/%) $(TEST_BIN): | $(B)/home
$(B)/home:
	mkdir -p $@ && ln -sfn $(CURDIR)/runtime $@/runtime && ln -sfn $(CURDIR)/$(B) $@/build
endif
