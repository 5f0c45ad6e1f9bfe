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

$(B)/tests/gen/%.c: tests/models/%.ae $(B)/aec
	$(B)/aec emit $< -o $(@D)
$(B)/tests/gen/%.c: models/%.ae $(B)/aec
	$(B)/aec emit $< -o $(@D)
$(B)/tests/gen/%.o: $(B)/tests/gen/%.c
	$(CC) $(CFLAGS) -fopenmp -Werror -DAEC_NO_MAIN -Iruntime -c $< -o $@

$(TEST_UTIL): tests/util.c tests/util.h runtime/aec.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iruntime -c $< -o $@

$(B)/tests/%: tests/%.c $(TEST_UTIL) $(GEN_OBJ) $(CC_PASSES) $(B)/libaecrt.a $(wildcard tests/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iruntime -Icompiler -I$(B)/cc -I$(B)/tests/gen -DAEC_ROOT='"$(CURDIR)"' \
	    -DAEC_BUILD='"$(CURDIR)/$(B)"' \
	    $< $(TEST_UTIL) $(GEN_OBJ) $(CC_PASSES) $(B)/libaecrt.a -lcmocka $(LIBS) -fopenmp -o $@

test: all $(TEST_BIN) $(B)/latent_walk
	bash tests/run $(TEST_BIN)

# SAN=1 (see the Makefile): AEC_HOME for `aec build`, a folder with runtime/
# and build/ in it, as links to the sources and to build-san/.
ifeq ($(SAN),1)
$(MODELS:%=$(B)/%) $(TEST_BIN): | $(B)/home
$(B)/home:
	mkdir -p $@ && ln -sfn $(CURDIR)/runtime $@/runtime && ln -sfn $(CURDIR)/$(B) $@/build
endif
