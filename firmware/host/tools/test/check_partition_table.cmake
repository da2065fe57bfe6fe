# ctest test_kiln_partition_table: kiln-image-gen's partition table against gen_esp32part.py.
#   cmake -DGEN=kiln-image-gen -DDIR=<this dir> -DOUT=<scratch dir> -P check_partition_table.cmake
# Vector (formats.md §3, gen_esp32part v5.5.4): partitions_two_ota.csv gives a first row
# aa50 0102 00900000 00400000 "nvs", the MD5 row at 0xC0, MD5 bf25822c0fa6d8641bd930251e06b4c4,
# and 0xFF up to 0xC00 bytes. Malformed tables must be refused.
file(MAKE_DIRECTORY ${OUT})
set(bin ${OUT}/two_ota.bin)
execute_process(COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0 ${GEN} --partition-table
                ${DIR}/partitions_two_ota.csv ${bin} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "kiln-image-gen --partition-table failed (${rc})")
endif()
file(SIZE ${bin} size)
if(NOT size EQUAL 3072)
    message(FATAL_ERROR "the table is ${size} bytes, not 3072 (0xC00)")
endif()
function(expect offset limit want what)
    file(READ ${bin} got OFFSET ${offset} LIMIT ${limit} HEX)
    if(NOT got STREQUAL want)
        message(FATAL_ERROR "${what}: got ${got}, want ${want}")
    endif()
endfunction()
expect(0 16 "aa50010200900000004000006e767300" "first row (nvs)")
# offset and size of each row: blank offsets follow the previous partition, aligned to
# 0x1000 (data) or 0x10000 (app).
expect(36 8 "00d0000000200000" "otadata offset/size")
expect(68 8 "00f0000000100000" "phy_init offset/size")
expect(96 12 "aa5000000000010000001000" "factory type/subtype/offset/size")
expect(131 9 "100000110000001000" "ota_0 subtype/offset/size")
expect(163 9 "110000210000001000" "ota_1 subtype/offset/size")
string(REPEAT "ff" 14 ff14)
expect(192 32 "ebeb${ff14}bf25822c0fa6d8641bd930251e06b4c4" "MD5 row")
string(REPEAT "ff" 2848 tail)
expect(224 2848 "${tail}" "0xFF padding")

# Tables gen_esp32part.py refuses.
set(bad_overlap "nvs, data, nvs, 0x9000, 0x6000\nphy, data, phy, 0xe000, 0x1000\n")
set(bad_app_align "app0, app, factory, 0x18000, 1M\n")
set(bad_otadata "otadata, data, ota, , 0x1000\n")
set(bad_flag "nvs, data, nvs, , 0x4000, secret\n")
set(bad_dup "nvs, data, nvs, , 0x4000\nnvs, data, nvs, , 0x4000\n")
set(bad_table "nvs, data, nvs, 0x8000, 0x4000\n")
set(bad_type "nvs, blob, nvs, , 0x4000\n")
foreach(case bad_overlap bad_app_align bad_otadata bad_flag bad_dup bad_table bad_type)
    file(WRITE ${OUT}/${case}.csv "${${case}}")
    execute_process(COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0 ${GEN} --partition-table
                    ${OUT}/${case}.csv ${OUT}/${case}.bin RESULT_VARIABLE rc ERROR_VARIABLE err)
    if(rc EQUAL 0)
        message(FATAL_ERROR "${case}: accepted a table gen_esp32part.py refuses")
    endif()
    message(STATUS "${case}: refused: ${err}")
endforeach()
